// OpenBLAS's CBLAS interface plus its thread control. Only the engine's BLAS.swift imports this.
#ifndef ATTRIB_ADV_COPENBLAS_SHIM_H
#define ATTRIB_ADV_COPENBLAS_SHIM_H
#include <cblas.h>
#endif
