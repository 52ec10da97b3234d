# The audit store is append-only (a guard trigger refuses UPDATE, DELETE, INSERT and TRUNCATE, for
# superusers too), and a superuser who disables the guard is found out by verify_audit(): a
# changed, deleted, inserted or re-numbered row, each in the log it was made in.
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use OlinkTAP;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = olink_node('tamper');
olink_counterpart($node, 'clerk');

# some of everything: access events (allowed and denied), connection events, texts, journal rows
my ($ret) = psql_as($node, 'clerk', q{
SELECT id, name FROM reg.people ORDER BY id;
SELECT ward FROM reg.people;
UPDATE reg.people SET income = income + 1 WHERE id = 2;
INSERT INTO reg.people (id, name) VALUES (50, 'fifty');
DELETE FROM reg.people WHERE id = 50;
});
$node->safe_psql('postgres', 'SELECT olink.flush_audit()');
# a second session, written (and sealed) in a batch of its own
# (one query string: its statements are queued within microseconds of each other)
psql_as($node, 'clerk', '',
	extra_params => [ '-c', 'SELECT 3; SELECT name FROM reg.people WHERE id = 3; SELECT 4' ]);
$node->safe_psql('postgres', 'SELECT olink.flush_audit()');
is($node->safe_psql('postgres', q{SELECT count(*) >= 2 FROM olink.audit_seal WHERE kind = 'a'}),
	't', 'the two sessions are under two seals');
is($node->safe_psql('postgres', 'SELECT count(*) FROM olink.verify_audit()'), '0', 'intact');

# the guard, for a superuser
for my $sql (
	q{UPDATE olink.access_event SET outcome = 'a'},
	q{DELETE FROM olink.access_event},
	q{INSERT INTO olink.access_event (event_id, at, statement_id, session_id, outcome) VALUES (-1, now(), 1, 1, 'a')},
	q{TRUNCATE olink.access_event},
	q{UPDATE olink.journal SET op = 'i'},
	q{DELETE FROM olink.audit_seal},
	q{TRUNCATE olink.journal})
{
	my ($r, $out, $err) = $node->psql('postgres', $sql);
	like($err, qr/ERROR:  audit table "\w+" is append-only/, "refused: $sql");
}
is($node->safe_psql('postgres', 'SELECT count(*) FROM olink.access_event WHERE event_id = -1'),
	'0', 'nothing was inserted');
is($node->safe_psql('postgres', 'SELECT count(*) FROM olink.verify_audit()'), '0', 'still intact');

# the guard switched off: each kind of tampering shows
my $findings = sub {
	return $node->safe_psql('postgres',
		q{SELECT string_agg(DISTINCT finding || ' ' || log, ', ') FROM olink.verify_audit()});
};
$node->safe_psql('postgres', join ";\n",
	map { "ALTER TABLE olink.$_ DISABLE TRIGGER append_only" }
	  qw(access_event connection_event audit_text journal));

# UPDATE
my $updated = $node->safe_psql('postgres', q{
UPDATE olink.access_event SET outcome = 'a'
 WHERE event_id = (SELECT min(event_id) FROM olink.access_event WHERE outcome = 'd')
RETURNING event_id});
is($findings->(), 'changed access_log', 'an updated access event: changed access_log');

# DELETE
$node->safe_psql('postgres', q{DELETE FROM olink.journal WHERE op = 'd'});
is($findings->(), 'changed access_log, deleted change_journal', 'a deleted journal row: deleted change_journal');

# INSERT
$node->safe_psql('postgres', q{
INSERT INTO olink.connection_event (event_id, at, kind, session_id, pid, login)
VALUES ((SELECT max(event_id) + 1 FROM olink.connection_event), now(), 'i', 1, 1, 'ghost')});
is($findings->(), 'changed access_log, deleted change_journal, inserted connection_log',
	'an inserted connection event: inserted connection_log');

# swapping ids: two texts of one seal exchange their ids
$node->safe_psql('postgres', q{
SELECT first_id AS t1 FROM olink.audit_seal WHERE kind = 't' AND row_count >= 2 ORDER BY seal_id LIMIT 1 \gset
UPDATE olink.audit_text SET text_id = -1 WHERE text_id = :t1;
UPDATE olink.audit_text SET text_id = :t1 WHERE text_id = :t1 + 1;
UPDATE olink.audit_text SET text_id = :t1 + 1 WHERE text_id = -1;
});
is( $findings->(),
	'changed access_log, deleted change_journal, inserted connection_log, reordered audit_text',
	'two texts with swapped ids: reordered audit_text');

# swapping ids of two access events of one seal (not the one of the update above)
$node->safe_psql('postgres', qq{
SELECT first_id AS a1 FROM olink.audit_seal WHERE kind = 'a' AND row_count >= 2
   AND $updated NOT BETWEEN first_id AND last_id ORDER BY seal_id DESC LIMIT 1 \\gset
UPDATE olink.access_event SET event_id = -1 WHERE event_id = :a1;
UPDATE olink.access_event SET event_id = :a1 WHERE event_id = :a1 + 1;
UPDATE olink.access_event SET event_id = :a1 + 1 WHERE event_id = -1;
});
my $found = $node->safe_psql('postgres', q{
SELECT count(*) FROM olink.verify_audit() WHERE finding = 'reordered' AND log = 'access_log'});
is($found, '1', 'two access events with swapped ids: reordered access_log');

# a seal rewritten, and a seal removed
$node->safe_psql('postgres', q{
ALTER TABLE olink.audit_seal DISABLE TRIGGER append_only;
UPDATE olink.audit_seal SET row_count = row_count + 1 WHERE seal_id = 1;
DELETE FROM olink.audit_seal WHERE seal_id = 2;
});
is( $node->safe_psql('postgres', q{
SELECT string_agg(finding, ',' ORDER BY finding) FROM olink.verify_audit() WHERE log = 'seal'}),
	'changed,changed,deleted', 'a rewritten and a removed seal: changed and deleted seal');

$node->stop;
done_testing();
