#include "mixmpi.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h>

static const int64_t chunk = INT_MAX / 8;

static void finalize_at_exit(void) {
    int initialized = 0, finalized = 0;
    MPI_Initialized(&initialized);
    MPI_Finalized(&finalized);
    if (initialized && !finalized) MPI_Finalize();
}

int mixmpi_init(int *rank, int *size) {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (!initialized) {
        int provided = 0;
        int rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
        if (rc != MPI_SUCCESS) return rc;
        atexit(finalize_at_exit);
    }
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    int rc = MPI_Comm_rank(MPI_COMM_WORLD, rank);
    if (rc != MPI_SUCCESS) return rc;
    return MPI_Comm_size(MPI_COMM_WORLD, size);
}

/// Splits a long buffer into calls of at most `chunk` elements (MPI counts are int).
#define CHUNKED(call_type, pointer, count, CALL)              \
    for (int64_t done = 0; done < (count); done += chunk) {   \
        int n = (int)((count) - done < chunk ? (count) - done : chunk); \
        call_type *p = (pointer) + done;                      \
        int rc = CALL;                                        \
        if (rc != MPI_SUCCESS) return rc;                     \
    }                                                         \
    return MPI_SUCCESS;

int mixmpi_broadcast_float(float *buffer, int64_t count, int root) {
    CHUNKED(float, buffer, count, MPI_Bcast(p, n, MPI_FLOAT, root, MPI_COMM_WORLD))
}

int mixmpi_broadcast_bytes(uint8_t *buffer, int64_t count, int root) {
    CHUNKED(uint8_t, buffer, count, MPI_Bcast(p, n, MPI_BYTE, root, MPI_COMM_WORLD))
}

int mixmpi_allreduce_sum_float(float *buffer, int64_t count) {
    CHUNKED(float, buffer, count, MPI_Allreduce(MPI_IN_PLACE, p, n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD))
}

int mixmpi_allreduce_sum_double(double *buffer, int64_t count) {
    CHUNKED(double, buffer, count, MPI_Allreduce(MPI_IN_PLACE, p, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD))
}

int mixmpi_barrier(void) { return MPI_Barrier(MPI_COMM_WORLD); }

int mixmpi_allgather_counts(int64_t count, int64_t *counts) {
    return MPI_Allgather(&count, 1, MPI_INT64_T, counts, 1, MPI_INT64_T, MPI_COMM_WORLD);
}

int mixmpi_allgather_bytes(const uint8_t *bytes, int64_t count, const int64_t *counts, uint8_t *out) {
    int size = 0;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    int *sizes = malloc(sizeof(int) * (size_t)size);
    int *offsets = malloc(sizeof(int) * (size_t)size);
    if (!sizes || !offsets) {
        free(sizes);
        free(offsets);
        return MPI_ERR_NO_MEM;
    }
    int64_t offset = 0;
    for (int r = 0; r < size; r++) {
        sizes[r] = (int)counts[r];
        offsets[r] = (int)offset;
        offset += counts[r];
    }
    int rc = MPI_Allgatherv(bytes, (int)count, MPI_BYTE, out, sizes, offsets, MPI_BYTE, MPI_COMM_WORLD);
    free(sizes);
    free(offsets);
    return rc;
}

void mixmpi_abort(int code) { MPI_Abort(MPI_COMM_WORLD, code); }

void mixmpi_library_version(char *out, int capacity) {
    char text[MPI_MAX_LIBRARY_VERSION_STRING];
    int length = 0;
    MPI_Get_library_version(text, &length);
    snprintf(out, (size_t)capacity, "%.*s", length, text);
}

void mixmpi_processor_name(char *out, int capacity) {
    char text[MPI_MAX_PROCESSOR_NAME];
    int length = 0;
    MPI_Get_processor_name(text, &length);
    snprintf(out, (size_t)capacity, "%.*s", length, text);
}

void mixmpi_error_string(int code, char *out, int capacity) {
    char text[MPI_MAX_ERROR_STRING];
    int length = 0;
    MPI_Error_string(code, text, &length);
    snprintf(out, (size_t)capacity, "%.*s", length, text);
}
