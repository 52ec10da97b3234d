# A statement refused inside a transaction that is then rolled back is still on record: the audit
# worker writes events in transactions of its own, so the rollback takes nothing of the audit
# with it.  Checked in both durabilities; in sync mode the denied event is committed before the
# error reaches the client, so it is in access_log while the transaction is still open.
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use OlinkTAP;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = olink_node('denied');
olink_counterpart($node, 'clerk', 'clerk_sync');
$node->safe_psql('postgres', q{ALTER ROLE clerk_sync SET olink.audit_durability = 'sync'});

# async: the refusal, the rollback, then a flush
my ($ret, $out, $err) = psql_as($node, 'clerk', q{
BEGIN;
UPDATE reg.people SET income = 0 WHERE id = 4;
SELECT name, ward FROM reg.people WHERE id = 4 /* first-denied */;
ROLLBACK;
});
like($err, qr/permission denied for column "ward"/, 'async: the counterpart is refused the column');
$node->safe_psql('postgres', 'SELECT olink.flush_audit()');

my $row = $node->safe_psql('postgres', q{
SELECT outcome, sqlstate, command, login, counterpart, purpose, relations::text
  FROM olink.access_log WHERE statement LIKE '%first-denied%'});
is($row, 'denied|42501|SELECT|clerk|pension|pension-check|{reg.people}',
	'async: the denied statement is in access_log after the rollback');
is( $node->safe_psql('postgres', q{
SELECT string_agg(command || ':' || outcome, ',' ORDER BY event_id) FROM olink.access_log
 WHERE login = 'clerk'}),
	'BEGIN:allowed,UPDATE:allowed,SELECT:denied,ROLLBACK:allowed',
	'async: every statement of the rolled-back transaction is on record, in order');
is( $node->safe_psql('postgres', q{
SELECT count(*) FROM olink.change_journal WHERE key = '{"id": 4}'}),
	'0', 'the rolled-back update left no journal row');
is($node->safe_psql('postgres', 'SELECT income FROM reg.people WHERE id = 4'),
	'4000', 'the rolled-back update did not happen');

# sync: the denied event is committed before the error is returned
my $bg = counterpart_psql($node, 'clerk_sync');
$bg->query_safe('BEGIN');
$bg->query('SELECT ward FROM reg.people WHERE id = 2 /* second-denied */');
like($bg->{stderr}, qr/permission denied for column "ward"/, 'sync: the counterpart is refused the column');
$bg->{stderr} = '';
# no flush: the event must be there already, while the transaction is still open (aborted)
is( $node->safe_psql('postgres', q{
SELECT outcome || '|' || sqlstate FROM olink.access_log WHERE statement LIKE '%second-denied%'}),
	'denied|42501',
	'sync: the denied event is committed before the error reaches the client');
$bg->query('ROLLBACK');
$bg->quit;
$node->safe_psql('postgres', 'SELECT olink.flush_audit()');
is( $node->safe_psql('postgres', q{
SELECT string_agg(outcome, ',' ORDER BY event_id) FROM olink.access_log WHERE statement LIKE '%second-denied%'}),
	'denied', 'sync: after the rollback, exactly one denied event for the statement');
is( $node->safe_psql('postgres', q{
SELECT count(*) FROM olink.access_event e JOIN olink.audit_text t ON t.text_id = e.statement
 WHERE t.body LIKE '%second-denied%' AND e.outcome = 'i'}),
	'1', 'sync: the statement\'s start record was committed before it ran');
is($node->safe_psql('postgres', 'SELECT count(*) FROM olink.verify_audit()'),
	'0', 'the audit store verifies clean');

$node->stop;
done_testing();
