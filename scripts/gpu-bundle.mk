# gpu-bundle.mk: `make gpu-bundle` stages in gpu-bundle/ what a bare GPU
# machine lacks to run cugen's GPU tests and benchmarks without building
# anything there, for one copy of the working tree (docs/gpu-results.md,
# "Bring-up"). Included by the Makefile; not part of the normal build.
#
# The machine it is for has the NVIDIA driver, the CUDA 13 toolkit under
# /usr/local/cuda (libcudart, libcublas, libcublasLt, compute-sanitizer),
# PyTorch with pip's cuDNN 9, glibc, libstdc++ and libgcc_s; no OpenBLAS,
# libpng, libjpeg, no network, and 64 MiB for the working tree and the
# bundle together. So the bundle holds:
#
#   bin/cugen, bin/test_unit   the PORTABLE=1 CUDA=1 build (x86-64-v3, sm_80,
#                              sm_90, PTX), debug info stripped, RUNPATH
#                              $ORIGIN/../lib then the toolkit's lib64
#   pack/LIB.gz                every library they need that the machine lacks,
#                              RUNPATH $ORIGIN, gzipped (gzip is on every
#                              image; OpenBLAS is 36 MB, 11 MB packed);
#                              scripts/gpu-check.sh unpacks them into lib/
#                              and removes lib/ when it ends
#   data/fashion-mnist/        Debian's dataset-fashion-mnist,
#                              for the GPU tests that train on it
#   MANIFEST, SHA256SUMS       what was staged from where, and what the
#                              machine must have (highest GLIBC_ version)
#
#   make gpu-bundle          build, stage, and fail if the tree that travels
#                            plus the bundle is over GPU_BUNDLE_LIMIT_MIB
#   make gpu-bundle-check    scripts/gpu-bundle-check.sh: resolve every
#                            library in a minimal root (debootstrap)
#   make gpu-bundle-run      on the GPU machine: sh scripts/gpu-check.sh

GPU_BUNDLE := gpu-bundle
GPU_BUNDLE_FMNIST ?= /usr/share/datasets/fashion-mnist
GPU_BUNDLE_LIMIT_MIB ?= 64
# Libraries the GPU machine provides (sonames, an extended regex): glibc,
# the C++ runtime, the driver, the CUDA toolkit and pip's cuDNN. Any other
# library the binaries need, directly or through another, is bundled.
GPU_IMAGE_LIBS := ^(linux-vdso|ld-linux-x86-64|libc|libm|libdl|libpthread|librt|libresolv|libutil|libstdc\+\+|libgcc_s|libcuda|libcudart|libcublas|libcublasLt|libcudnn[a-z_]*|libnvrtc[a-z_.-]*|libnvJitLink)\.so

.PHONY: gpu-bundle gpu-bundle-check gpu-bundle-run
gpu-bundle:
	@test -n "$(NVCC)" || { echo "gpu-bundle: needs nvcc (the CUDA 13 toolkit) to build the CUDA backend"; exit 2; }
	@command -v patchelf >/dev/null || sh scripts/install-deps.sh bundle
	@test -f $(GPU_BUNDLE_FMNIST)/train-images-idx3-ubyte.gz || { echo "gpu-bundle: no Fashion-MNIST in" \
	    "$(GPU_BUNDLE_FMNIST) (apt-get install dataset-fashion-mnist, or GPU_BUNDLE_FMNIST=DIR)"; exit 2; }
	@# MPI=0: the GPU machine has no OpenMPI; one process per GPU there. NCCL=0:
	@# libnccl is 218 MB, over the bundle's limit, and one process needs none
	@$(MAKE) --no-print-directory PORTABLE=1 CUDA=1 MPI=0 NCCL=0 build-portable/cugen build-portable/test_unit
	@set -e; b=$(GPU_BUNDLE); rm -rf $$b; mkdir -p $$b/bin $$b/pack $$b/data/fashion-mnist; \
	for x in cugen test_unit; do \
	    strip --strip-debug -o $$b/bin/$$x build-portable/$$x; \
	    patchelf --set-rpath "\$$ORIGIN/../lib:$$(patchelf --print-rpath build-portable/$$x)" $$b/bin/$$x; \
	done; \
	deps=$$(ldd build-portable/cugen build-portable/test_unit | awk '$$2 == "=>" {print $$1, $$3}' | sort -u); \
	if echo "$$deps" | grep -q ' not$$'; then echo "$$deps" | grep ' not$$'; \
	    echo "gpu-bundle: libraries not found here (above)"; exit 1; fi; \
	tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	echo "$$deps" | grep -v -E '$(GPU_IMAGE_LIBS)' | while read -r so path; do \
	    cp -L "$$path" "$$tmp/$$so"; chmod u+w "$$tmp/$$so"; \
	    patchelf --set-rpath '$$ORIGIN' "$$tmp/$$so"; \
	    gzip -9 -n -c "$$tmp/$$so" > $$b/pack/$$so.gz; \
	    echo "  bundled $$so from $$path ($$(stat -c %s "$$tmp/$$so") bytes, $$(stat -c %s $$b/pack/$$so.gz) packed)"; \
	done; \
	cp $(GPU_BUNDLE_FMNIST)/*-ubyte.gz $$b/data/fashion-mnist/; \
	glibc=$$(readelf -V $$b/bin/* $$tmp/* | grep -o 'GLIBC_2\.[0-9]*' | sort -u -V | tail -n 1); \
	cxx=$$(readelf -V $$b/bin/* $$tmp/* | grep -o 'GLIBCXX_[0-9.]*\|CXXABI_[0-9.]*' | sort -u -V | xargs); \
	{ echo "cugen GPU bundle, staged $$(date -u +%Y-%m-%dT%H:%M:%SZ) by make gpu-bundle"; \
	  echo "source: $$(git describe --always --dirty 2>/dev/null || echo unknown)"; \
	  echo "build: PORTABLE=1 CUDA=1 (-march=x86-64-v3; nvcc $$($(NVCC) --version | sed -n 's/.*release \([0-9.]*\).*/\1/p'), sm_80 sm_90 compute_90), $$($(CC) --version | head -n 1)"; \
	  echo "needs on the machine: glibc $${glibc#GLIBC_} or newer, libstdc++ with $${cxx:-any version}, libgcc_s, the driver's libcuda.so.1,"; \
	  echo "  $$(readelf -d build-portable/cugen | sed -n 's/.*NEEDED.*\[\(libcu[a-z]*\.so\.[0-9]*\)\]/\1/p' | tr '\n' ' ')(the CUDA toolkit, pip's cuDNN)"; \
	  echo "bundled libraries (pack/, unpacked into lib/ by scripts/gpu-check.sh):"; \
	  echo "$$deps" | grep -v -E '$(GPU_IMAGE_LIBS)' | sed 's/^/  /'; \
	  echo "data: $(GPU_BUNDLE_FMNIST) -> data/fashion-mnist"; } > $$b/MANIFEST; \
	(cd $$b && find bin pack data -type f | sort | xargs sha256sum > SHA256SUMS)
	@b=$(GPU_BUNDLE); tree=$$(git ls-files -z -co --exclude-standard | xargs -0 stat -c %s 2>/dev/null \
	    | awk '{s += $$1} END {print s + 0}'); bun=$$(du -sb $$b | cut -f1); \
	total=$$((tree + bun)); limit=$$(($(GPU_BUNDLE_LIMIT_MIB) * 1048576)); \
	awk -v n=$$b -v b=$$bun -v t=$$tree -v l=$(GPU_BUNDLE_LIMIT_MIB) 'BEGIN {m = 1048576; printf "gpu-bundle: %s/ %.1f MiB;" \
	    " the working tree that travels: %.1f MiB; together %.1f of %d MiB\n", n, b / m, t / m, (b + t) / m, l}'; \
	test $$total -le $$limit || { echo "gpu-bundle: over the $(GPU_BUNDLE_LIMIT_MIB) MiB that can be copied to the GPU machine"; exit 1; }

gpu-bundle-check:
	@command -v debootstrap >/dev/null || sh scripts/install-deps.sh bundle
	@sh scripts/gpu-bundle-check.sh $(GPU_BUNDLE)

# On the GPU machine, from the repository root, with gpu-bundle/ carried.
gpu-bundle-run:
	@sh scripts/gpu-check.sh
