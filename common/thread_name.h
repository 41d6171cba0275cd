/* thread_name: names the calling thread ("writer", "journal", ...) so that
 * `top -H`, `ps -L`, perf and /proc/PID/task/TID/comm tell the program's
 * threads apart; without it every thread shows the program's name. */
#ifndef FERRY_THREAD_NAME_H
#define FERRY_THREAD_NAME_H

/* At most 15 bytes are kept (the kernel's limit); a longer name is cut.
 * Best effort: a system without thread names keeps the old one. */
void thread_name_set(const char *name);

#endif
