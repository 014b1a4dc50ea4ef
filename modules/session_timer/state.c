/* State shared by the module's files: the configured policy, the tm service, the counters. */
#include "st.h"

struct st_policy st_policy = {ST_MODE_REQUIRED, ST_RFC_MIN_SE, 1800, 7200};
bool st_expiry_bye = true;
const struct tm_api *st_tm;
struct st_stats st_st;
