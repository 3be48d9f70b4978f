# cugen build.
#
#   make              library + the cugen binary (build/cugen)
#   make test         unit tests and gradchecks, then the GPU tests on the emulated device
#                     (tests/emu/, docs/emulator.md); ends with "N passed, N failed, N skipped"
#   make test-emu     only the emulated-device part
#   make check-layers the include lines of host/ against the layering (make test runs it)
#   make test SAN=1   the same under AddressSanitizer + UBSan (separate build dir)
#   make valgrind     the CPU tests under valgrind's memcheck
#   make gradcheck    only the gradchecks, with each op's measured error
#   make test-gpu     the tests with GPU cases required (fails without a GPU)
#   make sanitize-gpu the GPU tests under compute-sanitizer's memcheck
#   make bench        CPU op benchmarks (cugen bench ops --device cpu)
#   make demo         the main job
#   CUDA=0|1          build the CUDA backend (default: 1 when nvcc is found);
#                     CUDA=0 where nvcc exists builds in build-cpu/
#   MPI=0|1           data-parallel training under mpirun (default: 1 when mpicc is
#                     found; its flags from `mpicc --showme`, else pkg-config ompi-c)
#   NCCL=0|1          the GPU all-reduce of data-parallel runs through NCCL (default:
#                     1 with CUDA=1 when nccl.h and libnccl are found)
#
# Two builds of the same host sources: f32 (real = float) for the program and
# the unit tests, f64 (real = double, -DCUGEN_DOUBLE) for the gradchecks.

NVCC ?= $(shell command -v nvcc 2>/dev/null || { test -x /usr/local/cuda/bin/nvcc && echo /usr/local/cuda/bin/nvcc; })
CUDA ?= $(if $(NVCC),1,0)
CUDA_HOME ?= $(patsubst %/bin/nvcc,%,$(NVCC))
SAN ?= 0
VG ?= 0

CC := gcc
# VG=1: a build for valgrind, whose CPU model has no AVX-512 (no -march=native).
# CUDA=0 on a machine with nvcc: a build dir of its own, so that the CPU-only
# and the CUDA build do not overwrite each other's objects.
# PORTABLE=1: binaries for another machine (the GPU bundle): x86-64-v3
# (AVX2, FMA) instead of this machine's -march=native, in build-portable/.
PORTABLE ?= 0
BUILD := build$(if $(filter 1,$(SAN)),-san)$(if $(filter 1,$(VG)),-vg)$(if $(filter 1,$(PORTABLE)),-portable)$(if $(and $(filter 0,$(CUDA)),$(NVCC)),-cpu)
OPT := $(if $(filter 1,$(VG)),-O1,-O2 $(if $(filter 1,$(PORTABLE)),-march=x86-64-v3,-march=native))
comma := ,
SANFLAGS := $(if $(filter 1,$(SAN)),-fsanitize=address$(comma)undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
# fp-contract=off: the reference must not fuse a*b+c behind our back (Philox
# normals are bit-exact between CPU and GPU only without silent contraction).
CFLAGS := -std=c11 $(OPT) -g -ffp-contract=off -Wall -Wextra -Wshadow -Wno-unused-parameter \
          -D_GNU_SOURCE -pthread -Iinclude -Ihost -Itests $(SANFLAGS)
LDLIBS := -lopenblas -lpng -ljpeg -lz -lm -pthread

# MPI (docs/data-parallel.md): host/train/dist_mpi.c where mpicc (or
# pkg-config's ompi-c) is found, its stand-in host/train/dist_stub.c otherwise,
# whose one answer to a launch under mpirun is an error saying so.
MPICC ?= $(shell command -v mpicc 2>/dev/null)
MPI_CFLAGS ?= $(if $(MPICC),$(shell $(MPICC) --showme:compile 2>/dev/null),$(shell pkg-config --cflags ompi-c 2>/dev/null))
MPI_LIBS ?= $(if $(MPICC),$(shell $(MPICC) --showme:link 2>/dev/null),$(shell pkg-config --libs ompi-c 2>/dev/null))
MPI ?= $(if $(strip $(MPI_LIBS)),1,0)
DIST_SRC := $(if $(filter 1,$(MPI)),host/train/dist_mpi.c,host/train/dist_stub.c)
DIST_OTHER := $(filter-out $(DIST_SRC),host/train/dist_mpi.c host/train/dist_stub.c)
LDLIBS += $(if $(filter 1,$(MPI)),$(MPI_LIBS))

# NCCL (kernels/nccl.cu) for the gradient all-reduce of GPU ranks: with
# CUDA=1 where nccl.h and libnccl are found (the toolkit's directories, then
# the system's); host/core/nccl_stub.c otherwise, and GPU ranks reduce
# through host memory and MPI. The emulated device always builds
# kernels/nccl.cu, against its stand-in (tests/emu/nccl.cc).
NCCL_INC ?= $(firstword $(foreach d,$(CUDA_HOME)/include /usr/include /usr/local/include,$(if $(wildcard $(d)/nccl.h),$(d))))
NCCL_LIB ?= $(firstword $(foreach d,$(CUDA_HOME)/lib64 /usr/lib/x86_64-linux-gnu /usr/local/lib,$(if $(wildcard $(d)/libnccl.so),$(d))))
NCCL ?= $(if $(and $(filter 1,$(CUDA)),$(NCCL_INC),$(NCCL_LIB)),1,0)

HOST_DIRS := host/core host/ops host/cpu host/nn host/optim host/models host/models/classic \
             host/metrics host/train host/data host/io
# The CUDA entry points of a CPU-only build, stubbed beside each list of them.
STUB_SRC := host/core/cuda_stub.c host/ops/cuda_ops_stub.c host/optim/optim_cuda_stub.c \
            host/core/nccl_stub.c
HOST_SRC := $(filter-out $(STUB_SRC) $(DIST_OTHER),$(foreach d,$(HOST_DIRS),$(wildcard $(d)/*.c)))
CLI_SRC := $(wildcard host/cli/*.c)
# tests/op_cases.c, the table of op cases, serves three programs: the unit
# tests (CPU vs GPU), the gradchecks (f64) and `cugen bench ops --table`.
UNIT_SRC := tests/harness.c tests/op_cases.c $(wildcard tests/unit/*.c)
GRAD_SRC := tests/harness.c tests/op_cases.c $(wildcard tests/grad/*.c)
CU_SRC := $(wildcard kernels/*.cu)

# --fmad=false: like the host's -ffp-contract=off, no a*b+c is fused behind
# our back, so Philox normals are bit-identical to the CPU's and the other
# kernels round like their CPU references. --extended-lambda: kernels are
# written as device lambdas run by cu_map (kernels/cuda_check.h).
ifeq ($(CUDA),1)
  NVCCFLAGS := -O2 -std=c++17 -Iinclude -Ihost --fmad=false --extended-lambda \
               -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90 \
               -gencode arch=compute_90,code=compute_90 \
               -Xcompiler -fPIC,-Wall
  CU_OBJ := $(patsubst kernels/%.cu,$(BUILD)/cuda/%.o,$(if $(filter 1,$(NCCL)),$(CU_SRC),$(filter-out kernels/nccl.cu,$(CU_SRC))))
  BACKEND_OBJ := $(CU_OBJ) $(if $(filter 1,$(NCCL)),,$(BUILD)/f32/host/core/nccl_stub.o)
  CUDA_LIBS := -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcudnn -lcublas -lcudart \
               -lstdc++
  ifeq ($(NCCL),1)
    NVCCFLAGS += -I$(NCCL_INC)
    CUDA_LIBS += -L$(NCCL_LIB) -Wl,-rpath,$(NCCL_LIB) -lnccl
  endif
else
  BACKEND_OBJ := $(patsubst %.c,$(BUILD)/f32/%.o,$(STUB_SRC))
  CUDA_LIBS :=
endif

F32_OBJ := $(patsubst %.c,$(BUILD)/f32/%.o,$(HOST_SRC))
F64_OBJ := $(patsubst %.c,$(BUILD)/f64/%.o,$(HOST_SRC) $(STUB_SRC))
CLI_OBJ := $(patsubst %.c,$(BUILD)/f32/%.o,$(CLI_SRC)) $(BUILD)/f32/tests/op_cases.o
UNIT_OBJ := $(patsubst %.c,$(BUILD)/f32/%.o,$(UNIT_SRC))
GRAD_OBJ := $(patsubst %.c,$(BUILD)/f64/%.o,$(GRAD_SRC))

.PHONY: all emu test-emu test check-layers gradcheck valgrind test-gpu sanitize-gpu bench demo clean refs fuzz
all: $(BUILD)/cugen $(if $(filter 1,$(SAN) $(VG)),,emu)

$(BUILD)/libcugen.a: $(F32_OBJ) $(BACKEND_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libcugen_f64.a: $(F64_OBJ)
	@rm -f $@
	ar rcs $@ $^

# The line of cugen --version and cugen info: VERSION, the commit (git
# describe; "unknown" where there is no .git, as in a tarball) and the build
# date (from SOURCE_DATE_EPOCH when set, for reproducible builds). Only
# host/cli/main.c includes $(BUILD)/version.h, and the file is rewritten only
# when its text changes, so a new commit rebuilds that one object.
VERSION := 0.1.0
GIT_HASH := $(shell test -e .git && git describe --always --dirty --abbrev=12 2>/dev/null || echo unknown)
BUILD_DATE := $(shell date -u -d "@$${SOURCE_DATE_EPOCH:-$$(date +%s)}" +%Y-%m-%d)
VERSION_H := $(BUILD)/version.h

.PHONY: version-check
version-check:
$(VERSION_H): version-check
	@mkdir -p $(dir $@)
	@printf '%s\n' '#define CUGEN_VERSION "$(VERSION)"' '#define CUGEN_GIT_HASH "$(GIT_HASH)"' \
	    '#define CUGEN_BUILD_DATE "$(BUILD_DATE)"' > $@.new
	@if cmp -s $@.new $@; then rm -f $@.new; else mv -f $@.new $@; fi

$(BUILD)/f32/host/cli/main.o: $(VERSION_H)
$(BUILD)/f32/host/cli/main.o: CFLAGS += -I$(BUILD)

$(BUILD)/cugen: $(CLI_OBJ) $(BUILD)/libcugen.a
	$(CC) $(CFLAGS) -o $@ $^ $(CUDA_LIBS) $(LDLIBS)

$(BUILD)/test_unit: $(UNIT_OBJ) $(BUILD)/libcugen.a
	$(CC) $(CFLAGS) -o $@ $^ $(CUDA_LIBS) $(LDLIBS)

$(BUILD)/test_grad: $(GRAD_OBJ) $(BUILD)/libcugen_f64.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/f32/host/train/dist_mpi.o $(BUILD)/f64/host/train/dist_mpi.o: CFLAGS += $(MPI_CFLAGS)

# The CPU kernels' loops want vectorising (-O3); still no -ffast-math, so
# not one result changes.
$(BUILD)/f32/host/cpu/%.o $(BUILD)/f64/host/cpu/%.o: CFLAGS += $(if $(filter 1,$(VG)),,-O3)

$(BUILD)/f32/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/f64/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DCUGEN_DOUBLE -MMD -MP -c $< -o $@

$(BUILD)/cuda/%.o: kernels/%.cu
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCCFLAGS) -MMD -MP -c $< -o $@

# ---- the emulated GPU (tests/emu/) -------------------------------------------------
# The same kernels/*.cu built with the host C++ compiler against stand-in
# headers for the CUDA runtime, cuBLAS and cuDNN (tests/emu/include), linked
# with the emulator instead of CUDA's libraries: $(EMU)/test_unit and
# $(EMU)/cugen are the same programs as $(BUILD)/test_unit and $(BUILD)/cugen
# with a device that runs on the CPU (visible when CUGEN_EMU_GPU=1).
# $(EMU)/test_emu holds the emulator's own tests. No nvcc needed.
# -ffp-contract=off, as nvcc's --fmad=false above.
CXX := g++
EMU := $(BUILD)/emu
EMU_CXXFLAGS := -std=c++17 $(OPT) -g -ffp-contract=off -Wall -Wextra -Wno-unused-parameter -Wno-unused-function \
                -D_GNU_SOURCE -pthread -Itests/emu/include -Itests/emu -Iinclude -Ihost \
                -Ikernels -Itests
EMU_KOBJ := $(patsubst kernels/%.cu,$(EMU)/kernels/%.o,$(CU_SRC))
EMU_LIB_OBJ := $(patsubst %.cc,$(EMU)/%.o,$(filter-out tests/emu/test_%,$(wildcard tests/emu/*.cc)))
EMU_TEST_OBJ := $(patsubst %.cc,$(EMU)/%.o,$(wildcard tests/emu/test_*.cc)) \
                $(patsubst %.cu,$(EMU)/%.o,$(wildcard tests/emu/test_*.cu))
EMU_LIBS := -lstdc++ $(LDLIBS)

$(EMU)/kernels/%.o: kernels/%.cu
	@mkdir -p $(dir $@)
	$(CXX) $(EMU_CXXFLAGS) -x c++ -MMD -MP -c $< -o $@

# the NCCL stand-in reduces through MPI between processes where MPI is built
$(EMU)/tests/emu/nccl.o: EMU_CXXFLAGS += $(if $(filter 1,$(MPI)),-DEMU_NCCL_MPI $(MPI_CFLAGS))

$(EMU)/tests/emu/%.o: tests/emu/%.cc
	@mkdir -p $(dir $@)
	$(CXX) $(EMU_CXXFLAGS) -MMD -MP -c $< -o $@

$(EMU)/tests/emu/%.o: tests/emu/%.cu
	@mkdir -p $(dir $@)
	$(CXX) $(EMU_CXXFLAGS) -x c++ -MMD -MP -c $< -o $@

$(EMU)/libcugen.a: $(F32_OBJ) $(EMU_KOBJ) $(EMU_LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(EMU)/cugen: $(CLI_OBJ) $(EMU)/libcugen.a
	$(CC) $(CFLAGS) -o $@ $^ $(EMU_LIBS)

$(EMU)/test_unit: $(UNIT_OBJ) $(EMU)/libcugen.a
	$(CC) $(CFLAGS) -o $@ $^ $(EMU_LIBS)

$(EMU)/test_emu: $(BUILD)/f32/tests/harness.o $(EMU_TEST_OBJ) $(EMU)/libcugen.a
	$(CC) $(CFLAGS) -o $@ $^ $(EMU_LIBS)

emu: $(EMU)/cugen $(EMU)/test_unit $(EMU)/test_emu

# make test's last part: every GPU test (names containing "gpu") on the
# emulated device, the CLI ones through $(EMU)/cugen, then the emulator's own.
# The GPU tests run with blocks, and threads between barriers, in a shuffled
# order (CUDA promises none) and each emulated cugen run must end with no
# device memory, stream or event left (docs/emulator.md).
EMU_TESTS := "env CUGEN_EMU_GPU=1 CUGEN_EMU_SHUFFLE=1 CUGEN_ARENA_REDZONE=1 CUGEN_EMU_LEAK_CHECK=1 CUGEN_BIN=$(EMU)/cugen $(EMU)/test_unit gpu" \
             "env CUGEN_EMU_GPU=1 $(EMU)/test_emu"

# make gpu-bundle: everything a bare GPU machine lacks, staged for one copy.
include scripts/gpu-bundle.mk

# Tests run from the repository root (they read tests/ref/*). The binaries are
# run one after the other and their summaries added up by tests/run.sh.
# CUGEN_ARENA_REDZONE=1: red zones after every step-arena allocation, checked
# at each step's end (include/cugen/tensor.h), on both devices.
TEST_ENV := CUGEN_ARENA_REDZONE=1 $(if $(filter 1,$(SAN)),ASAN_OPTIONS=detect_leaks=1:protect_shadow_gap=0 UBSAN_OPTIONS=print_stacktrace=1)
# Under SAN=1 the emulated device is left out: its fibers switch stacks,
# which AddressSanitizer would need to be told about.
# Without a GPU the first pass leaves the GPU tests to the emulated device
# ("!gpu"), so that what the summary counts as skipped is what did not run.
test: $(BUILD)/test_unit $(BUILD)/test_grad $(BUILD)/cugen $(if $(filter 1,$(SAN)),,emu)
	@sh scripts/check_layers.sh
	@only=""; if [ "$(SAN)" != 1 ] && ! $(BUILD)/cugen info --require-gpu >/dev/null 2>&1; then \
	    only="!gpu"; echo "no GPU here: the GPU tests run on the emulated device (last)"; fi; \
	$(TEST_ENV) CUGEN_BIN=$(BUILD)/cugen sh tests/run.sh "$(BUILD)/test_unit $$only" \
	    $(BUILD)/test_grad $(if $(filter 1,$(SAN)),,$(EMU_TESTS))

# The include lines of host/ against the layering (scripts/check_layers.sh);
# make test runs it first.
check-layers:
	@sh scripts/check_layers.sh && echo "check-layers: host/ depends in one direction"

# Only the emulated-device part of make test.
test-emu: emu
	@sh tests/run.sh $(EMU_TESTS)

gradcheck: $(BUILD)/test_grad
	@sh tests/run.sh $(BUILD)/test_grad

# One OpenBLAS thread: its worker pool is never joined, which memcheck would
# report as a leak of thread stacks. JSIMD_FORCENONE: memcheck misreads
# libjpeg-turbo's SIMD code as using uninitialised values (a known false
# positive); the plain C decoder is checked instead.
VALGRIND := valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
            --suppressions=tests/valgrind.supp
valgrind:
	@$(MAKE) --no-print-directory VG=1 build-vg/test_unit build-vg/test_grad build-vg/cugen
	@OPENBLAS_NUM_THREADS=1 JSIMD_FORCENONE=1 CUGEN_BIN=build-vg/cugen sh tests/run.sh "$(VALGRIND) build-vg/test_unit" "$(VALGRIND) build-vg/test_grad"

test-gpu: $(BUILD)/test_unit $(BUILD)/cugen
	@$(BUILD)/cugen info --require-gpu
	@CUGEN_REQUIRE_GPU=1 CUGEN_BIN=$(BUILD)/cugen sh tests/run.sh $(BUILD)/test_unit

# The GPU tests (names containing "gpu") under compute-sanitizer's memcheck:
# out-of-bounds and misaligned device accesses, kernel faults and failed
# CUDA calls, in the forked child each test runs in (--target-processes
# all). Any report makes the run fail (exit status 1).
SANITIZER ?= $(firstword $(wildcard $(CUDA_HOME)/bin/compute-sanitizer \
                                    $(CUDA_HOME)/compute-sanitizer/compute-sanitizer) \
                         $(shell command -v compute-sanitizer 2>/dev/null))
sanitize-gpu: $(BUILD)/test_unit $(BUILD)/cugen
	@test "$(CUDA)" = 1 || { echo "sanitize-gpu: needs the CUDA build (CUDA=1)"; exit 2; }
	@test -n "$(SANITIZER)" || { echo "sanitize-gpu: compute-sanitizer not found in" \
	    "$(CUDA_HOME)/bin, $(CUDA_HOME)/compute-sanitizer or PATH (set SANITIZER=...)"; exit 2; }
	@$(BUILD)/cugen info --require-gpu
	@CUGEN_REQUIRE_GPU=1 CUGEN_BIN=$(BUILD)/cugen sh tests/run.sh \
	    "$(SANITIZER) --tool memcheck --report-api-errors no --error-exitcode 1 --target-processes all $(BUILD)/test_unit gpu"

bench: $(BUILD)/cugen
	$(BUILD)/cugen bench ops --device cpu

# The main job: installs what is missing (Debian packages), builds, and trains
# the 32x32 DCGAN on Fashion-MNIST for one epoch (937 steps of 64) on the GPU
# if there is one, else the CPU; the sample grid is runs/demo-dcgan/samples.png.
demo:
	sh scripts/install-deps.sh
	@$(MAKE) --no-print-directory $(BUILD)/cugen
	$(BUILD)/cugen train dcgan --data fashion-mnist --image-size 32 --ngf 32 --ndf 32 \
	    --batch 64 --epochs 1 --out runs/demo-dcgan --overwrite
	@echo "demo: samples of a fixed z after the epoch: runs/demo-dcgan/samples.png"

# Regenerate the PyTorch reference files (needs Debian's python3-torch, and
# python3-torchvision for the Inception one).
refs:
	/usr/bin/python3 scripts/make_refs.py tests/ref
	/usr/bin/python3 scripts/make_dcgan_ref.py tests/ref
	/usr/bin/python3 scripts/make_wgan_gp_ref.py tests/ref
	/usr/bin/python3 scripts/make_dcgan_variants_ref.py tests/ref
	/usr/bin/python3 scripts/make_ddpm_ref.py tests/ref
	/usr/bin/python3 scripts/make_vae_flow_ref.py tests/ref
	/usr/bin/python3 scripts/make_mlp_gan_ref.py tests/ref
	/usr/bin/python3 scripts/make_inception_ref.py tests/ref/inception_fid.ref

# libFuzzer targets (tests/fuzz/fuzz_*.c, each defining LLVMFuzzerTestOneInput)
# against the host sources built with clang + ASan + UBSan. Each runs for
# FUZZ_SECONDS on a copy of its seed corpus in tests/fuzz/corpus/NAME.
FUZZ_SECONDS ?= 60
FUZZ_CFLAGS := -std=c11 -O1 -g -D_GNU_SOURCE -pthread -Iinclude -Ihost -Itests \
               -fsanitize=address,undefined -fno-sanitize-recover=undefined
# without MPI: the stand-in of host/train/dist_mpi.c
FUZZ_OBJ := $(patsubst %.c,build-fuzz/%.o,$(sort $(filter-out host/train/dist_mpi.c,$(HOST_SRC)) \
              host/train/dist_stub.c) $(STUB_SRC))
FUZZ_BIN := $(patsubst tests/fuzz/%.c,build-fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))
build-fuzz/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@
build-fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_OBJ)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)
fuzz: $(FUZZ_BIN)
	@for f in $(FUZZ_BIN); do n=$$(basename $$f); c=build-fuzz/corpus/$$n; mkdir -p $$c; \
	  cp -r tests/fuzz/corpus/$$n/. $$c/ 2>/dev/null || true; \
	  echo "== $$n for $(FUZZ_SECONDS) s"; \
	  $$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 $$c || exit 1; done

clean:
	rm -rf build build-san build-vg build-cpu build-fuzz

-include $(EMU_KOBJ:.o=.d) $(EMU_LIB_OBJ:.o=.d) $(EMU_TEST_OBJ:.o=.d)
-include $(F32_OBJ:.o=.d) $(F64_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(UNIT_OBJ:.o=.d) $(GRAD_OBJ:.o=.d) \
         $(BACKEND_OBJ:.o=.d)
