/* pullboxd's own table of pullbox.conf keys, compiled into the settings
 * library so that the renderer asks it, not a list of its own, which keys
 * pullboxd reads only at its start (those need a restart, not a reload). */
#include "../../server/src/config_table.c"
