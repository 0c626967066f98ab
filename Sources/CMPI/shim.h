// Open MPI (Debian libopenmpi-dev; headers and library found through pkg-config's ompi-c).
// MPI_COMM_WORLD, MPI_FLOAT, MPI_DOUBLE and MPI_THREAD_* are macros over Open MPI's globals, which Swift
// cannot import: these small functions hand them over.
#pragma once
#include <mpi.h>

static inline MPI_Comm fura_mpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Datatype fura_mpi_float(void) { return MPI_FLOAT; }
static inline MPI_Datatype fura_mpi_double(void) { return MPI_DOUBLE; }
static inline MPI_Datatype fura_mpi_long_long(void) { return MPI_LONG_LONG; }
static inline MPI_Op fura_mpi_sum(void) { return MPI_SUM; }
static inline int fura_mpi_thread_serialized(void) { return MPI_THREAD_SERIALIZED; }
static inline int fura_mpi_success(void) { return MPI_SUCCESS; }
static inline MPI_Errhandler fura_mpi_errors_return(void) { return MPI_ERRORS_RETURN; }
