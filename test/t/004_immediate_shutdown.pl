# Immediate shutdown (no checkpoint, no drain: the queue in shared memory is gone) while a
# counterpart writes in olink.audit_durability = sync, then a restart:
#   - every statement that returned has its access event, every committed change its journal row;
#   - verify_audit() finds nothing;
#   - events after the restart are written, and no id of the store repeats (the id counter starts
#     again from the clock and the store, not from zero).
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use OlinkTAP;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = olink_node('immediate');
olink_counterpart($node, 'clerk');
$node->safe_psql('postgres', q{ALTER ROLE clerk SET olink.audit_durability = 'sync'});

my $statements = 3000;

for my $round (1 .. 2)
{
	my $tag = "s$round";
	my $base = 10000 * $round;
	my $income_before = $node->safe_psql('postgres', 'SELECT income FROM reg.people WHERE id = 2');
	my ($max_event, $max_statement, $max_session, $max_journal) = split /\|/, $node->safe_psql(
		'postgres', q{
SELECT (SELECT coalesce(max(event_id), 0) FROM olink.access_event),
       (SELECT coalesce(max(statement_id), 0) FROM olink.access_event),
       (SELECT coalesce(max(session_id), 0) FROM olink.connection_event),
       (SELECT coalesce(max(journal_id), 0) FROM olink.journal)});

	my $w = start_writer($node, 'clerk', $tag, $base, $statements);
	ok($w->{wait_for}->(150), "$tag: the counterpart is under way");
	$node->stop('immediate');
	eval { $w->{h}->finish };
	$node->start;
	wait_worker($node);
	$node->safe_psql('postgres', 'SELECT olink.flush_audit()');

	check_writes($node, $tag, $base, [ $w->{returned}->() ], $income_before, $statements);
	is($node->safe_psql('postgres', 'SELECT count(*) FROM olink.verify_audit()'),
		'0', "$tag: the audit store verifies clean after the restart");

	# the store keeps growing after the restart, with new ids
	my ($ret, $out, $err) = psql_as($node, 'clerk', qq{
SELECT name FROM reg.people WHERE id = 2 AND note <> 'after-$tag';
UPDATE reg.people SET note = 'after-$tag' WHERE id = 4;
});
	is($ret, 0, "$tag: the counterpart works after the restart");
	$node->safe_psql('postgres', 'SELECT olink.flush_audit()');
	is( access_count($node, "statement LIKE '%''after-$tag''%' AND outcome = 'allowed'"),
		'2', "$tag: statements after the restart are written");
	is( $node->safe_psql(
			'postgres', qq{
SELECT count(*) FROM olink.change_journal WHERE after->>'note' = 'after-$tag'
   AND journal_id > $max_journal}),
		'1', "$tag: the journal is written after the restart, above every earlier id");
	is( $node->safe_psql(
			'postgres', qq{
SELECT bool_and(event_id > $max_event AND statement_id > $max_statement)
  FROM olink.access_event e JOIN olink.audit_text t ON t.text_id = e.statement
 WHERE t.body LIKE '%''after-$tag''%'}),
		't', "$tag: event and statement ids after the restart are above those before");
	is( $node->safe_psql(
			'postgres', qq{
SELECT count(*) > 0 AND bool_and(session_id > $max_session) FROM olink.connection_event
 WHERE event_id > (SELECT max(event_id) FROM olink.connection_event) - 2}),
		't', "$tag: session ids after the restart are above those before");
	is(repeated_ids($node), '0', "$tag: no id repeats");
}

is($node->safe_psql('postgres', 'SELECT count(*) FROM olink.verify_audit()'),
	'0', 'the audit store verifies clean at the end');
$node->stop;
done_testing();
