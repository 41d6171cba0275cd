/* notify: tell systemd how the service is doing (Type=notify): READY=1 once
 * serving, STATUS= lines an operator sees in `systemctl status`, WATCHDOG=1
 * from the event loop, STOPPING=1 on shutdown. Every call is a no-op
 * returning 0 when not run under systemd (NOTIFY_SOCKET unset). Returns 1
 * when the message was sent, 0 when there is nobody to tell, -errno on a
 * failure (which callers may ignore: notification is best effort). */
#ifndef FERRY_NOTIFY_H
#define FERRY_NOTIFY_H

#include <stdint.h>

int notify_ready(void);
/* STATUS=<formatted text>; line breaks are replaced by spaces. */
int notify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int notify_watchdog(void);
int notify_stopping(void);
/* RELOADING=1 (with MONOTONIC_USEC, for Type=notify-reload); send
 * notify_ready() again when the reload is done. */
int notify_reloading(void);
/* The watchdog interval systemd expects pings within (WatchdogSec=), in
 * microseconds; 0 when there is no watchdog for this process. Ping at half
 * of it. */
uint64_t notify_watchdog_usec(void);

#endif
