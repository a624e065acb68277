/* Wiping secrets before free(); see wipe.h. */
#include "util/wipe.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

void latch_wipe_free(void *p, size_t len)
{
    if (p == NULL)
        return;
    OPENSSL_cleanse(p, len);
    free(p);
}

void latch_wipe_free_str(char *s)
{
    if (s != NULL)
        latch_wipe_free(s, strlen(s));
}
