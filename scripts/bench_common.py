"""What the PyTorch side of `cugen bench step` shares: timing one call (CUDA
events on the GPU, the CPU clock otherwise), the median after a warm-up, and
the one result line cugen's bench_torch_rate reads:

    step_ms MS img_per_s R threads N torch VERSION [ddim_s S]
"""
import statistics
import time


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


def report(torch, med_ms, batch, extra=""):
    print("step_ms %.4f img_per_s %.2f threads %d torch %s%s" %
          (med_ms, batch / med_ms * 1e3, torch.get_num_threads(), torch.__version__, extra),
          flush=True)
