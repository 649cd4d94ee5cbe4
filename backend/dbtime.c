/* Parsing and formatting of stored times. Times are UTC everywhere; timegm
 * keeps the local time zone out of it. */
#include "dbtime.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* '0' to '9' (isdigit is a library call a character; listings parse a
 * time or two a row). */
static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int digits(const char **p, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (!is_digit(**p))
			return -EINVAL;
		v = v * 10 + (**p - '0');
		(*p)++;
	}
	*out = v;
	return 0;
}

static int expect(const char **p, char c)
{
	if (**p != c)
		return -EINVAL;
	(*p)++;
	return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil): exact, and much cheaper than timegm(), which listings
 * call once a row. */
static long long days_from_civil(int y, int m, int d)
{
	long long era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int dbtime_parse(const char *text, struct timespec *out)
{
	const char *p = text;
	int year, mon, day, hour, min, sec;
	long nsec = 0;

	if (!text)
		return -EINVAL;
	if (digits(&p, 4, &year) || expect(&p, '-') || digits(&p, 2, &mon) ||
	    expect(&p, '-') || digits(&p, 2, &day))
		return -EINVAL;
	if (*p != ' ' && *p != 'T')
		return -EINVAL;
	p++;
	if (digits(&p, 2, &hour) || expect(&p, ':') || digits(&p, 2, &min) ||
	    expect(&p, ':') || digits(&p, 2, &sec))
		return -EINVAL;
	if (*p == '.') {
		long scale = 100000000;
		p++;
		if (!is_digit(*p))
			return -EINVAL;
		for (; is_digit(*p); p++) {
			nsec += (*p - '0') * scale;
			scale /= 10;
		}
	}
	if (*p == 'Z')
		p++;
	if (*p != '\0')
		return -EINVAL;
	if (mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60)
		return -EINVAL;
	out->tv_sec = (time_t)(days_from_civil(year, mon, day) * 86400 + hour * 3600 + min * 60 + sec);
	out->tv_nsec = nsec;
	return 0;
}

/* Two layouts only; literal formats keep -Wformat-nonliteral checking. */
static void format_seconds(time_t sec, bool iso, char out[DBTIME_LEN])
{
	struct tm tm;
	gmtime_r(&sec, &tm);
	if (iso)
		strftime(out, DBTIME_LEN, "%Y-%m-%dT%H:%M:%SZ", &tm);
	else
		strftime(out, DBTIME_LEN, "%Y-%m-%d %H:%M:%S", &tm);
}

void dbtime_format(const struct timespec *t, char out[DBTIME_LEN])
{
	size_t len;
	format_seconds(t->tv_sec, false, out);
	len = strlen(out);
	snprintf(out + len, DBTIME_LEN - len, ".%06ld", t->tv_nsec / 1000);
}

void dbtime_format_bound(const struct timespec *t, char out[DBTIME_LEN])
{
	if (t->tv_nsec / 1000 == 0)
		format_seconds(t->tv_sec, false, out);
	else
		dbtime_format(t, out);
}

bool dbtime_to_iso(const char *text, char out[DBTIME_LEN])
{
	struct timespec t;
	if (!text || dbtime_parse(text, &t) != 0) {
		out[0] = '\0';
		return false;
	}
	format_seconds(t.tv_sec, true, out);
	return true;
}

/* The database server's clock minus this machine's, in microseconds
 * (dbtime_set_offset): 0 on SQLite, where the file is on this machine. */
static _Atomic int64_t offset_us;

void dbtime_set_offset(int64_t us)
{
	atomic_store(&offset_us, us);
}

int64_t dbtime_offset(void)
{
	return atomic_load(&offset_us);
}

void dbtime_now(struct timespec *out)
{
	int64_t off = atomic_load(&offset_us);

	clock_gettime(CLOCK_REALTIME, out);
	if (off) {
		int64_t ns = (int64_t)out->tv_nsec + (off % 1000000) * 1000;

		out->tv_sec += (time_t)(off / 1000000);
		if (ns < 0) {
			ns += 1000000000;
			out->tv_sec--;
		} else if (ns >= 1000000000) {
			ns -= 1000000000;
			out->tv_sec++;
		}
		out->tv_nsec = (long)ns;
	}
}
