# Load limits per counterpart (第7(2)(1)ア) and the live view of counterpart sessions (第7(2)(2)ア):
# a login beyond max_connections is refused at the door, with the reason on record; a statement
# beyond max_statements_per_minute is refused and audited, while COMMIT and ROLLBACK still pass;
# olink.sessions shows each live session with its terminal, purpose and statement count.
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use OlinkTAP;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = olink_node('load');
olink_counterpart($node, 'clerk', 'clerk2');

my $s1 = counterpart_psql($node, 'clerk');
$s1->query_safe(q{SELECT name FROM reg.people WHERE id = 2});
my $rows = $node->safe_psql('postgres', q{
SELECT login || '|' || counterpart || '|' || terminal || '|' || client_addr || '|' || coalesce(purpose, '') || '|'
       || statements || '|' || (since <= now()) || '|' || (cut_off_reason IS NULL)
  FROM olink.sessions});
is($rows, 'clerk|pension|pension-test|[local]|pension-check|1|true|true',
	'olink.sessions: the live session, its terminal, purpose and statements');
is($node->safe_psql('postgres', q{SELECT count(*) FROM olink.sessions}), '1', 'internal sessions are not listed');

# at most two sessions of the counterpart at once
$node->safe_psql('postgres', q{SELECT olink.set_counterpart_limits('pension', max_connections => 2, max_statements_per_minute => NULL)});
my $s2 = counterpart_psql($node, 'clerk2');
$s2->query_safe('SELECT 1');
my ($ret, $out, $err) = psql_as($node, 'clerk', 'SELECT 1');
isnt($ret, 0, 'a third session of the counterpart is refused');
like($err, qr/authentication failed for user "clerk"/, 'with the generic message');
$node->safe_psql('postgres', 'SELECT olink.flush_audit()');
is($node->safe_psql('postgres', q{
SELECT reason FROM olink.connection_log WHERE kind = 'refused' ORDER BY event_id DESC LIMIT 1}),
	'the counterpart has 2 sessions, its limit (max_connections)', 'the refusal is on record with its reason');
$s2->quit;
wait_until(sub { $node->safe_psql('postgres', 'SELECT count(*) FROM olink.sessions') eq '1' });
($ret, $out, $err) = psql_as($node, 'clerk2', 'SELECT 1');
is($ret, 0, 'when one ends, another may come in');

# alerts arrive on channel olink_alert
my $listener = $node->background_psql('postgres', on_error_stop => 0);
$listener->query_safe('LISTEN olink_alert');

# at most five statements a minute, transaction control aside
$node->safe_psql('postgres', q{SELECT olink.set_counterpart_limits('pension', max_connections => NULL, max_statements_per_minute => 5)});
my $minute_start = $node->safe_psql('postgres', q{SELECT 60 - extract(second FROM clock_timestamp())::int});
sleep($minute_start + 1) if $minute_start < 5;    # not across a minute boundary
my $s3 = counterpart_psql($node, 'clerk2');
my @results;
$s3->query_safe('BEGIN');
for my $i (1 .. 6)
{
	my $r = $s3->query("SELECT $i");
	push @results, $r;
}
my $rb = $s3->query('ROLLBACK');
like($s3->{stderr} // '', qr/counterpart statement rate limit exceeded/, 'a statement beyond the limit is refused');
is($s3->query('SELECT 42'), '', 'and the next ones this minute too');
like($s3->{stderr} // '', qr/counterpart statement rate limit exceeded/, 'refused by the same limit');
$node->safe_psql('postgres', 'SELECT olink.flush_audit()');
cmp_ok($node->safe_psql('postgres', q{
SELECT count(*) FROM olink.access_log WHERE sqlstate = '53400' AND message = 'counterpart statement rate limit exceeded'}),
	'>=', 1, 'the refusals are audited with SQLSTATE 53400');
is($node->safe_psql('postgres', q{
SELECT count(*) FROM olink.access_log WHERE login = 'clerk2' AND command = 'ROLLBACK' AND outcome = 'allowed'}),
	'1', 'ROLLBACK passes: a session can always end what it began');
# olink.load_status: the counterpart's load against its limits, from shared memory
is($node->safe_psql('postgres', q{
SELECT sessions || '|' || (statements_minute >= 6) || '|' || max_statements_per_minute || '|' || (refused_statements >= 1)
       || '|' || (rows_day >= 1) || '|' || audit_worker_running || '|' || (database_size > 0)
  FROM olink.load_status WHERE counterpart = 'pension'}),
	'2|true|5|true|true|true|true', 'olink.load_status: sessions, statements, refusals, rows, worker, database size');
# the worker raises the alerts within a second or two
ok(wait_until(sub { $node->safe_psql('postgres', q{
SELECT string_agg(DISTINCT kind, ',' ORDER BY kind) FROM olink.alerts WHERE counterpart = 'pension'}) eq 'connections,rate_limited,statements_per_minute' }),
	'alerts: sessions near their limit, the rate limit crossed, statements refused');
is($node->safe_psql('postgres', q{SELECT count(*) FROM olink.alerts WHERE kind = 'statements_per_minute'}), '1',
	'one alert per minute and kind, however long the load lasts');
my $heard = '';
ok(wait_until(sub { my $o = $listener->query('SELECT 1'); $heard .= ($o // '') . "\n" . ($listener->{stdout} // '');
	$heard =~ /Asynchronous notification "olink_alert" with payload "\{"alert_id" : \d+, "kind" : "statements_per_minute"\}"/ }),
	'and a NOTIFY olink_alert with the alert id and kind');
my @payloads = $heard =~ /Asynchronous notification "olink_alert" with payload "([^\n]*)" received/g;
note join("\n", @payloads);
ok(@payloads && !grep({ /pension|message|value/ } @payloads),
	'the payloads name no counterpart and no count (any role may LISTEN): olink.alerts has them');
$listener->quit;
$s1->quit;
$s3->quit;

# a day's row quota holds across sessions and restarts (the worker writes the day's counts to
# olink.quota_usage every second; the first statement after a restart reads them back)
# the rows grant 1 has read today so far, once the worker has written them all
my $used_sql = q{SELECT coalesce(sum(rows), 0) FROM olink.quota_usage WHERE grant_id = 1 AND day = current_date};
my ($before, $now) = (-1, $node->safe_psql('postgres', $used_sql));
while ($before ne $now)
{
	($before, $now) = ($now, do { sleep 2; $node->safe_psql('postgres', $used_sql) });
}
my $limit = $now + 10;
$node->safe_psql('postgres', qq{
SELECT olink.set_counterpart_limits('pension', NULL, NULL);
UPDATE olink.access_grant SET max_rows_per_day = $limit WHERE grant_id = 1});
($ret, $out, $err) = psql_as($node, 'clerk', 'SELECT count(id) FROM reg.people');
is($out, '6', 'six rows read in one session');
($ret, $out, $err) = psql_as($node, 'clerk2', 'SELECT count(id) FROM reg.people WHERE id <= 3');
is($out, '3', 'three in another');
ok(wait_until(sub { $node->safe_psql('postgres', $used_sql) eq $now + 9 }),
	'the day\'s nine more rows are written to olink.quota_usage');
$node->stop('immediate');
$node->start;
wait_worker($node);
($ret, $out, $err) = psql_as($node, 'clerk', 'SELECT count(id) FROM reg.people WHERE id <= 2', on_error_stop => 1);
isnt($ret, 0, 'after a crash, two more rows would go over the day\'s quota: refused');
like($err, qr/row quota exceeded: more than $limit rows today under grant 1/, 'by the day\'s quota');
($ret, $out, $err) = psql_as($node, 'clerk', 'SELECT count(id) FROM reg.people WHERE id = 1', on_error_stop => 1);
isnt($ret, 0, 'the refused statement\'s rows were read, and count: even one more is refused');
done_testing();
