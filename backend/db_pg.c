/* The PostgreSQL engine behind db.h, with libpq. Being written: the
 * functions of db_engine.h come in the next commits. */
#include "db_engine.h"
