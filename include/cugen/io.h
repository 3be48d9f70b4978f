/*
 * io.h: what cugen writes and reads besides datasets: safetensors files and
 * checkpoints (atomic, CRC-checked), PNG image grids, terminal progress.
 */
#ifndef CUGEN_IO_H
#define CUGEN_IO_H

#include <stddef.h>
#include <stdint.h>

#include "cugen/tensor.h"

/* ---- safetensors and checkpoints ------------------------------------------ */

/* ---- PNG grids and progress ----------------------------------------------- */

#endif
