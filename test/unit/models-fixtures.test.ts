// The committed model fixtures are exactly what their generators produce, and stay small.
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { buildTinyLlama, GGUF_FIXTURES } from '../fixtures/models/gen-gguf.js';
import { buildTinyBertOnnx, ONNX_FIXTURE_DIR, tokenizerJson } from '../fixtures/models/gen-onnx.js';

const dir = fileURLToPath(new URL('../fixtures/models/', import.meta.url));
const MAX_BYTES = 1 << 20;

describe('models: committed fixtures match their generators', () => {
  it('GGUF fixtures are byte-identical to a fresh generation and under 1 MiB', () => {
    const expected: Record<string, Buffer> = {
      [GGUF_FIXTURES.good]: buildTinyLlama(),
      [GGUF_FIXTURES.noFim]: buildTinyLlama({ fim: false }),
      [GGUF_FIXTURES.unsupportedArch]: buildTinyLlama({ architecture: 'hearth-unknown-arch' }),
    };
    for (const [name, buf] of Object.entries(expected)) {
      const onDisk = readFileSync(dir + name);
      assert.ok(onDisk.equals(buf), `${name} differs from gen-gguf.ts output; run node --import tsx test/fixtures/models/gen-gguf.ts`);
      assert.ok(onDisk.length < MAX_BYTES, `${name} is ${onDisk.length} bytes`);
      assert.equal(onDisk.subarray(0, 4).toString('ascii'), 'GGUF');
      assert.equal(onDisk.readUInt32LE(4), 3, 'GGUF version 3');
    }
  });

  it('the ONNX encoder and its tokenizer are byte-identical to a fresh generation and under 1 MiB', () => {
    const model = readFileSync(`${dir}${ONNX_FIXTURE_DIR}/onnx/model.onnx`);
    assert.ok(model.equals(buildTinyBertOnnx()), 'model.onnx differs from gen-onnx.ts output; run node --import tsx test/fixtures/models/gen-onnx.ts');
    assert.ok(statSync(`${dir}${ONNX_FIXTURE_DIR}/onnx/model.onnx`).size < MAX_BYTES);
    assert.deepEqual(JSON.parse(readFileSync(`${dir}${ONNX_FIXTURE_DIR}/tokenizer.json`, 'utf8')), tokenizerJson());
  });
});
