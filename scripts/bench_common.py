"""What the PyTorch side of `cugen bench step` (and `bench inception`) shares:
the precision switches, timing one call (CUDA events on the GPU, the CPU
clock otherwise), the median after a warm-up, and the one result line
cugen's bench_torch_rate reads:

    step_ms MS img_per_s R threads N torch VERSION precision P [ddim_s S]

Precision: cugen computes in full FP32 unless asked for TF32, while
PyTorch's defaults mix the two (torch.backends.cudnn.allow_tf32 on, so
convolutions run in TF32 on Ampere and later; torch.backends.cuda.matmul.
allow_tf32 off). --precision fp32|tf32, which cugen passes with its own
mode, sets both switches explicitly, so each comparison is FP32 against
FP32 or TF32 against TF32, and the result line says which. cuDNN's
algorithms come from its heuristics (benchmark off), as cugen's do. On the
CPU the switches change nothing: PyTorch and cugen compute in FP32.
"""
import statistics
import time

PRECISIONS = ("fp32", "tf32")


def add_precision_arg(ap):
    """--precision fp32|tf32 on an argparse parser"""
    ap.add_argument("--precision", choices=PRECISIONS, default="fp32",
                    help="GPU math of convolutions and matrix products: fp32 (full FP32, "
                    "cugen's default) or tf32 (TF32 tensor cores, cugen's --precision tf32)")


def set_precision(torch, precision):
    """Both TF32 switches from the precision (PyTorch's defaults differ from
    each other), and cuDNN's heuristic algorithm choice."""
    tf32 = precision == "tf32"
    torch.backends.cudnn.allow_tf32 = tf32
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.benchmark = False


def time_ms(torch, device, fn):
    """fn()'s time in ms"""
    if device == "cuda":
        t0 = torch.cuda.Event(enable_timing=True)
        t1 = torch.cuda.Event(enable_timing=True)
        t0.record()
        fn()
        t1.record()
        t1.synchronize()
        return t0.elapsed_time(t1)
    s = time.perf_counter()
    fn()
    return (time.perf_counter() - s) * 1e3


def median_ms(torch, device, fn, skip, repeat):
    """the median of `repeat` timed calls after `skip` untimed ones"""
    times = [time_ms(torch, device, fn) for _ in range(skip + repeat)]
    return statistics.median(times[skip:])


def precision_of(torch):
    """the precision the switches are in now, as the result line states it"""
    on = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    return "tf32" if all(on) else "fp32" if not any(on) else "mixed"


def report(torch, med_ms, batch, extra=""):
    print("step_ms %.4f img_per_s %.2f threads %d torch %s precision %s%s" %
          (med_ms, batch / med_ms * 1e3, torch.get_num_threads(), torch.__version__,
           precision_of(torch), extra), flush=True)
