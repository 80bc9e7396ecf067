"""onnxruntime in Python on the shipped int8 ONNX model and the same feature vectors as the
Node run: session creation and per-call latency of session.run (one thread, batch 1),
timed call by call. Prints a `BENCH {json}` line for report.py.
Usage: python3 scripts/bench/ort.py <features.csv> [quick]"""
import json
import sys
import time

import numpy as np
import onnxruntime as ort

xs = np.loadtxt(sys.argv[1], delimiter=",", skiprows=1, dtype=np.float32)[:2000]
n = 2_000 if len(sys.argv) > 2 else 20_000
rows = [x.reshape(1, -1) for x in xs]
# "basic" computes what the model says; "all" (the default) fuses DequantizeLinear + Gemm
# into an int8 matmul that also quantizes the activations (about 2% off; see node.cjs).
for name, level in [("basic", ort.GraphOptimizationLevel.ORT_ENABLE_BASIC), ("all", ort.GraphOptimizationLevel.ORT_ENABLE_ALL)]:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.graph_optimization_level = level
    t0 = time.perf_counter()
    session = ort.InferenceSession("models/behaviour.int8.onnx", options, providers=["CPUExecutionProvider"])
    cold_ms = (time.perf_counter() - t0) * 1e3
    for i in range(n // 10):
        session.run(None, {"features": rows[i % len(rows)]})
    times = []
    for i in range(n):
        t = time.perf_counter()
        session.run(None, {"features": rows[i % len(rows)]})
        times.append((time.perf_counter() - t) * 1e6)
    times.sort()
    print("BENCH " + json.dumps({
        "env": f"onnxruntime-python-{name}", "name": f"model: onnxruntime {ort.__version__} (Python) session.run, graph optimization {name}",
        "stage": "model_js", "p50_us": times[n // 2], "p99_us": times[n * 99 // 100], "session_ms": cold_ms,
    }))
