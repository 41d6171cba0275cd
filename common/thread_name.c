/* thread_name: see thread_name.h. */
#define _GNU_SOURCE
#include "thread_name.h"

#include <pthread.h>
#include <string.h>

void thread_name_set(const char *name) {
  if (!name || !*name) return;
  char cut[16];
  size_t n = strlen(name);
  if (n > sizeof(cut) - 1) n = sizeof(cut) - 1;
  memcpy(cut, name, n);
  cut[n] = '\0';
  (void)pthread_setname_np(pthread_self(), cut);
}
