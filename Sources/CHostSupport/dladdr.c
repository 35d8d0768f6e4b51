#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>
#include "CHostSupport.h"

const char *mixmae_object_path_of(const void *address) {
    Dl_info info;
    if (dladdr(address, &info) == 0) return NULL;
    return info.dli_fname;
}
