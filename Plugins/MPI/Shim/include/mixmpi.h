// The few MPI calls the MPI communicator plugin makes, as plain C functions:
// Open MPI's MPI_COMM_WORLD and datatypes are macros Swift cannot import.
// Every function returns an MPI error code (0 = MPI_SUCCESS).
#ifndef MIXMPI_H
#define MIXMPI_H

#include <stdint.h>

/// Joins the job (MPI_Init_thread, funneled) unless MPI is already initialised;
/// errors return instead of aborting; MPI_Finalize runs at exit.
int mixmpi_init(int *rank, int *size);
int mixmpi_broadcast_float(float *buffer, int64_t count, int root);
int mixmpi_broadcast_bytes(uint8_t *buffer, int64_t count, int root);
int mixmpi_allreduce_sum_float(float *buffer, int64_t count);
int mixmpi_allreduce_sum_double(double *buffer, int64_t count);
int mixmpi_barrier(void);
/// Every rank's `count` (as int64) into `counts` (size entries).
int mixmpi_allgather_counts(int64_t count, int64_t *counts);
/// Every rank's bytes, concatenated in rank order into `out` (the sum of counts).
int mixmpi_allgather_bytes(const uint8_t *bytes, int64_t count, const int64_t *counts, uint8_t *out);
void mixmpi_abort(int code);
/// The library's version text into `out` (at most capacity-1 bytes, NUL-terminated).
void mixmpi_library_version(char *out, int capacity);
void mixmpi_processor_name(char *out, int capacity);
void mixmpi_error_string(int code, char *out, int capacity);

#endif
