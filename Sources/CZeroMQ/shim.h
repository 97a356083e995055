#ifndef TIMELINE_CZEROMQ_SHIM_H
#define TIMELINE_CZEROMQ_SHIM_H

#include <zmq.h>
#include <errno.h>

/* Socket options that libzmq 4.3 declares only under ZMQ_BUILD_DRAFT_API.
   The values are stable; the library rejects them with EINVAL when it was
   built without draft support, and the Swift layer reports that. */
#ifndef ZMQ_ZAP_ENFORCE_DOMAIN
#define ZMQ_ZAP_ENFORCE_DOMAIN 93
#endif

#endif
