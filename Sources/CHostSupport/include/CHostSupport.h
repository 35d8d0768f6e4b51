#ifndef MIXMAE_CHOSTSUPPORT_H
#define MIXMAE_CHOSTSUPPORT_H
#include "mixmae_image_codecs.h"
/// Returns the path of the loaded object that contains `address`, or NULL.
const char *mixmae_object_path_of(const void *address);
#endif
