#!/usr/bin/env node
// Reference runner: real llama.cpp (prebuilt, via the npm package node-llama-cpp) for
// comparing edgellm against. CPU only, deterministic settings. See README.md.
//
//   node llamacpp_ref.mjs logits   MODEL.gguf 1,2,3 OUT.f32   # float32 [n_tokens x n_vocab], row-major, all positions
//   node llamacpp_ref.mjs greedy   MODEL.gguf 1,2,3 N          # prints N greedily generated ids (comma separated)
//   node llamacpp_ref.mjs tokenize MODEL.gguf TEXT [--special] [--no-bos]
//   node llamacpp_ref.mjs vocab-test VOCAB.gguf [INP OUT]      # checks llama.cpp's ggml-vocab-*.inp/.out pairs
//   node llamacpp_ref.mjs info     MODEL.gguf
//   node llamacpp_ref.mjs bench    MODEL.gguf [--pp 64] [--tg 32] [--reps 3]
//   node llamacpp_ref.mjs version                              # package and llama.cpp versions
//
// Common options: --threads N (default 1), --kv-type f16|f32 (default f16 = llama.cpp default),
//   --flash-attn (default off), --batch N (default: whole sequence in one batch), --verbose (llama.cpp logs),
//   --stop-at-eog (greedy: stop at an end-of-generation token; default: always produce N ids),
//   --text (tokenize/greedy: also print the detokenized text to stderr).
// The package is loaded from $EDGELLM_LLAMACPP_DIR (default ~/.cache/edgellm/llamacpp-ref), see install.sh.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {pathToFileURL} from "node:url";

const HERE = path.dirname(new URL(import.meta.url).pathname);

function usage(msg) {
    if (msg) process.stderr.write(`error: ${msg}\n`);
    process.stderr.write(fs.readFileSync(new URL(import.meta.url), "utf8").split("\n").slice(1, 18).map((l) => l.replace(/^\/\/ ?/, "")).join("\n") + "\n");
    process.exit(2);
}

function parseArgs(argv) {
    const pos = [];
    const opt = {threads: 1, kvType: "f16", flashAttn: false, batch: 0, verbose: false, special: false, noBos: false,
        stopAtEog: false, text: false, pp: 64, tg: 32, reps: 3};
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        const next = () => { if (i + 1 >= argv.length) usage(`${a} needs a value`); return argv[++i]; };
        switch (a) {
            case "--threads": opt.threads = parseInt(next(), 10); break;
            case "--kv-type": opt.kvType = next().toLowerCase(); break;
            case "--flash-attn": opt.flashAttn = true; break;
            case "--batch": opt.batch = parseInt(next(), 10); break;
            case "--verbose": case "-v": opt.verbose = true; break;
            case "--special": opt.special = true; break;
            case "--no-bos": opt.noBos = true; break;
            case "--stop-at-eog": opt.stopAtEog = true; break;
            case "--text": opt.text = true; break;
            case "--pp": opt.pp = parseInt(next(), 10); break;
            case "--tg": opt.tg = parseInt(next(), 10); break;
            case "--reps": opt.reps = parseInt(next(), 10); break;
            case "-h": case "--help": usage(); break;
            default:
                if (a.startsWith("--") && a.length > 2) usage(`unknown option ${a}`);
                pos.push(a);
        }
    }
    if (!["f16", "f32"].includes(opt.kvType)) usage("--kv-type must be f16 or f32");
    return {pos, opt};
}

function parseIds(s) {
    if (s === "" || s == null) return [];
    return s.split(/[,\s]+/).filter((x) => x !== "").map((x) => {
        const v = Number(x);
        if (!Number.isInteger(v) || v < 0) usage(`bad token id '${x}'`);
        return v;
    });
}

async function loadNlc() {
    const dir = process.env.EDGELLM_LLAMACPP_DIR || path.join(os.homedir(), ".cache", "edgellm", "llamacpp-ref");
    const entry = path.join(dir, "node_modules", "node-llama-cpp", "dist", "index.js");
    if (!fs.existsSync(entry)) {
        process.stderr.write(`node-llama-cpp not found at ${entry}\nrun: bash ${path.join(HERE, "install.sh")}\n`);
        process.exit(3);
    }
    return import(pathToFileURL(entry).href);
}

let quietSimulation = false;

async function openLlama(nlc, opt) {
    const {getLlama, LlamaLogLevel} = nlc;
    return getLlama({
        gpu: false,                 // CPU backend only
        build: "never",             // never try to compile or download; use the prebuilt binary from the npm package
        usePrebuiltBinaries: true,
        skipDownload: true,
        progressLogs: false,
        maxThreads: opt.threads,
        logLevel: opt.verbose ? LlamaLogLevel.debug : LlamaLogLevel.error,
        logger: (level, message) => {
            // node-llama-cpp first "simulates" a full model load to estimate memory; for vocab-only GGUFs that
            // simulation fails harmlessly (no tensors). Hide that noise unless --verbose.
            if (!opt.verbose && quietSimulation && /missing tensor|failed to load model|Failed simulating model resource usage/.test(message)) return;
            process.stderr.write(`[llama.cpp:${level}] ${message.replace(/\n$/, "")}\n`);
        }
    });
}

async function openModel(llama, file, vocabOnly) {
    if (!fs.existsSync(file)) usage(`no such file: ${file}`);
    quietSimulation = vocabOnly;
    return llama.loadModel({modelPath: path.resolve(file), gpuLayers: 0, vocabOnly, useMmap: true,
        ignoreMemorySafetyChecks: true});
}

async function openContext(model, nCtx, opt) {
    const ctxSize = Math.max(64, Math.ceil(nCtx / 64) * 64);
    const batch = opt.batch > 0 ? opt.batch : ctxSize;
    const kv = opt.kvType === "f32" ? "F32" : "F16";
    return model.createContext({
        contextSize: ctxSize,
        batchSize: batch,
        sequences: 1,
        threads: {ideal: opt.threads, min: opt.threads},
        flashAttention: opt.flashAttn,
        experimentalKvCacheKeyType: kv,
        experimentalKvCacheValueType: kv,
        ignoreMemorySafetyChecks: true,
        performanceTracking: false
    });
}

function addSpecialTokens(model, ids, opt) {
    // llama_tokenize(add_special=true) semantics: BOS if the vocab says add_bos, EOS if add_eos.
    if (opt.noBos) return ids;
    const out = [...ids];
    const bos = model.tokens.bos;
    const eos = model.tokens.eos;
    if (model.tokens.shouldPrependBosToken && bos != null) out.unshift(bos);
    if (model.tokens.shouldAppendEosToken && eos != null) out.push(eos);
    return out;
}

function nVocab(model) {
    // number of logits per position == llama_vocab_n_tokens (the tokenizer's token count)
    const n = model.fileInfo?.metadata?.tokenizer?.ggml?.tokens?.length;
    if (!(n > 0)) throw new Error("cannot determine n_vocab from tokenizer.ggml.tokens");
    return n;
}

async function cmdLogits(nlc, pos, opt) {
    if (pos.length !== 3) usage("logits MODEL.gguf IDS OUT.f32");
    const [file, idsStr, out] = pos;
    const ids = parseIds(idsStr);
    if (ids.length === 0) usage("need at least one token id");
    const llama = await openLlama(nlc, opt);
    const model = await openModel(llama, file, false);
    const ctx = await openContext(model, ids.length, opt);
    const seq = ctx.getSequence();
    const V = nVocab(model);
    const input = ids.map((t) => [t, {generateNext: {logits: true, options: {temperature: 0}}}]);
    const res = await seq.controlledEvaluate(input);
    const buf = new Float32Array(ids.length * V);
    for (let i = 0; i < ids.length; i++) {
        const m = res[i]?.next?.logits;
        if (m == null || m.size !== V) throw new Error(`position ${i}: got ${m?.size} logits, expected ${V}`);
        const row = buf.subarray(i * V, (i + 1) * V);
        for (const [tok, val] of m) row[tok] = val;
    }
    fs.writeFileSync(out, Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength));
    const argmax = [];
    for (let i = 0; i < ids.length; i++) {
        let best = 0;
        for (let j = 1; j < V; j++) if (buf[i * V + j] > buf[i * V + best]) best = j;
        argmax.push(best);
    }
    process.stderr.write(`wrote ${out}: ${ids.length} x ${V} float32 (argmax per position: ${argmax.join(",")})\n`);
    await ctx.dispose(); await model.dispose(); await llama.dispose();
}

async function cmdGreedy(nlc, pos, opt) {
    if (pos.length !== 3) usage("greedy MODEL.gguf IDS N");
    const [file, idsStr, nStr] = pos;
    const ids = parseIds(idsStr);
    const n = parseInt(nStr, 10);
    if (ids.length === 0 || !(n >= 0)) usage("need prompt ids and N >= 0");
    const llama = await openLlama(nlc, opt);
    const model = await openModel(llama, file, false);
    const ctx = await openContext(model, ids.length + n, opt);
    const seq = ctx.getSequence();
    const gen = {generateNext: {token: true, options: {temperature: 0}}};
    const outIds = [];
    let input = ids.map((t, i) => (i === ids.length - 1 ? [t, gen] : t));
    for (let k = 0; k < n; k++) {
        const res = await seq.controlledEvaluate(input);
        const tok = res[res.length - 1]?.next?.token;
        if (tok == null) throw new Error("no token sampled");
        outIds.push(tok);
        if (opt.stopAtEog && model.isEogToken(tok)) break;
        input = [[tok, gen]];
    }
    process.stdout.write(outIds.join(",") + "\n");
    if (opt.text) process.stderr.write(JSON.stringify(model.detokenize(outIds, true)) + "\n");
    await ctx.dispose(); await model.dispose(); await llama.dispose();
}

async function cmdTokenize(nlc, pos, opt) {
    if (pos.length !== 2) usage("tokenize MODEL.gguf TEXT [--special] [--no-bos]");
    const [file, text] = pos;
    const llama = await openLlama(nlc, opt);
    const model = await openModel(llama, file, true);
    const ids = addSpecialTokens(model, text === "" ? [] : Array.from(model._model.tokenize(text, opt.special)), opt);
    process.stdout.write(ids.join(",") + "\n");
    if (opt.text) process.stderr.write(JSON.stringify(model.detokenize(ids, true)) + "\n");
    await model.dispose(); await llama.dispose();
}

async function cmdVocabTest(nlc, pos, opt) {
    // Same protocol as llama.cpp tests/test-tokenizer-0: inputs split by "\n__ggml_vocab_test__\n",
    // one output line of space-separated ids per input, tokenized with add_special=false, parse_special=true.
    if (pos.length !== 1 && pos.length !== 3) usage("vocab-test VOCAB.gguf [INP OUT]");
    const file = pos[0];
    const inp = pos[1] ?? `${file}.inp`;
    const outf = pos[2] ?? `${file}.out`;
    const llama = await openLlama(nlc, opt);
    const model = await openModel(llama, file, true);
    const texts = fs.readFileSync(inp, "utf8").split("\n__ggml_vocab_test__\n");
    if (texts.length && texts[texts.length - 1].endsWith("\n__ggml_vocab_test__")) texts[texts.length - 1] = texts[texts.length - 1].slice(0, -"\n__ggml_vocab_test__".length);
    const expected = fs.readFileSync(outf, "utf8").split("\n");
    let pass = 0, fail = 0;
    for (let i = 0; i < texts.length; i++) {
        const got = texts[i] === "" ? [] : Array.from(model._model.tokenize(texts[i], true));
        const exp = (expected[i] ?? "").trim().split(/\s+/).filter((x) => x !== "").map(Number);
        if (got.length === exp.length && got.every((v, j) => v === exp[j])) pass++;
        else {
            fail++;
            process.stderr.write(`MISMATCH #${i} ${JSON.stringify(texts[i])}\n  expected: ${exp.join(" ")}\n  got:      ${got.join(" ")}\n`);
        }
    }
    process.stdout.write(`${path.basename(file)}: ${pass} passed, ${fail} failed\n`);
    await model.dispose(); await llama.dispose();
    if (fail) process.exitCode = 1;
}

async function cmdInfo(nlc, pos, opt) {
    if (pos.length !== 1) usage("info MODEL.gguf");
    const {readGgufFileInfo} = nlc;
    const info = await readGgufFileInfo(path.resolve(pos[0]), {readTensorInfo: true});
    const md = info.metadata ?? {};
    const tok = md.tokenizer?.ggml ?? {};
    const out = {
        version: info.version, tensorCount: Number(info.totalTensorCount ?? info.tensorInfo?.length),
        architecture: md.general?.architecture, name: md.general?.name, fileType: md.general?.file_type,
        tokenizerModel: tok.model, tokenizerPre: tok.pre, nVocab: tok.tokens?.length,
        tensorTypes: [...new Set((info.fullTensorInfo ?? info.tensorInfo ?? []).map((t) => t.ggmlType))]
    };
    const archKv = md[md.general?.architecture] ?? {};
    out.hparams = archKv;
    process.stdout.write(JSON.stringify(out, (k, v) => (typeof v === "bigint" ? Number(v) : v), 2) + "\n");
}

async function cmdVersion(nlc, pos, opt) {
    const llama = await openLlama(nlc, opt);
    const dir = process.env.EDGELLM_LLAMACPP_DIR || path.join(os.homedir(), ".cache", "edgellm", "llamacpp-ref");
    const ver = (p) => JSON.parse(fs.readFileSync(path.join(dir, "node_modules", p, "package.json"), "utf8")).version;
    process.stdout.write(`node-llama-cpp ${ver("node-llama-cpp")}, @node-llama-cpp/linux-x64 ${ver("@node-llama-cpp/linux-x64")}, ` +
        `llama.cpp ${llama.llamaCppRelease.release}, gpu=${llama.gpu}, binary=${llama.buildType}\n`);
    await llama.dispose();
}

async function cmdBench(nlc, pos, opt) {
    if (pos.length !== 1) usage("bench MODEL.gguf [--pp N] [--tg N] [--reps N]");
    const llama = await openLlama(nlc, opt);
    const model = await openModel(llama, pos[0], false);
    const V = nVocab(model);
    const ctx = await openContext(model, opt.pp + opt.tg, opt);
    const seq = ctx.getSequence();
    const prompt = Array.from({length: opt.pp}, (_, i) => (i * 7919 + 13) % V);
    const pp = [], tg = [];
    for (let r = 0; r < opt.reps; r++) {
        await seq.clearHistory();
        let t0 = process.hrtime.bigint();
        await seq.controlledEvaluate(prompt.map((t, i) => (i === prompt.length - 1 ? [t, {generateNext: {token: true, options: {temperature: 0}}}] : t)));
        pp.push(Number(process.hrtime.bigint() - t0) / 1e9);
        await seq.clearHistory();
        await seq.controlledEvaluate([prompt[0]]);
        t0 = process.hrtime.bigint();
        let tok = prompt[0];
        for (let k = 0; k < opt.tg; k++) {
            const res = await seq.controlledEvaluate([[tok, {generateNext: {token: true, options: {temperature: 0}}}]]);
            tok = res[0].next.token;
        }
        tg.push(Number(process.hrtime.bigint() - t0) / 1e9);
    }
    const med = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
    const line = (name, n, a) => `${name}${n}\t${(n / med(a)).toFixed(2)} tok/s\t(median of ${a.length}, ${a.map((x) => (n / x).toFixed(1)).join(" ")})`;
    process.stdout.write(`model ${path.basename(pos[0])} threads=${opt.threads} kv=${opt.kvType} flash_attn=${opt.flashAttn}\n`);
    process.stdout.write(line("pp", opt.pp, pp) + "\n" + line("tg", opt.tg, tg) + "\n");
    await ctx.dispose(); await model.dispose(); await llama.dispose();
}

const {pos, opt} = parseArgs(process.argv.slice(2));
const cmd = pos.shift();
const cmds = {logits: cmdLogits, greedy: cmdGreedy, tokenize: cmdTokenize, "vocab-test": cmdVocabTest, info: cmdInfo, bench: cmdBench, version: cmdVersion};
if (!cmd || !cmds[cmd]) usage(cmd ? `unknown command ${cmd}` : undefined);
const nlc = await loadNlc();
try {
    await cmds[cmd](nlc, pos, opt);
} catch (e) {
    process.stderr.write(`error: ${e?.stack ?? e}\n`);
    process.exit(1);
}
