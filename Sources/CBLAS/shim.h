// OpenBLAS (pthread build, Debian libopenblas-dev) and LAPACKE (Debian liblapacke-dev).
#pragma once
#include <cblas.h>
#include <lapacke.h>
// Declared by OpenBLAS; repeated here so the thread controls are visible whatever cblas.h is found first.
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
// glibc's allocator controls (mallopt), used by FuRATensor's Allocator.
#include <malloc.h>
