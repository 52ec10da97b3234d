# kill -9 during writes, in olink.audit_durability = sync.  A counterpart runs single-row INSERT and
# UPDATE transactions on a protected table; mid-way a backend is killed with SIGKILL (round 1: the
# counterpart's own backend, round 2: an unrelated idle backend), so the postmaster reinitialises
# shared memory, and the async queue with it.  After the restart:
#   - every committed change has exactly one journal row, and no journal row exists for a change
#     that did not commit;
#   - every statement whose result reached the client is in access_log (final or 'incomplete');
#   - every journal row's statement has its access event (sync: the start record is committed
#     before the statement runs);
#   - ids do not repeat and verify_audit() finds nothing.
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use OlinkTAP;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = olink_node('kill9', crash_restart => 1);
olink_counterpart($node, 'clerk');
$node->safe_psql('postgres', q{ALTER ROLE clerk SET olink.audit_durability = 'sync'});

my $statements = 3000;

sub round
{
	my ($tag, $base, $victim) = @_;

	my $income_before = $node->safe_psql('postgres', 'SELECT income FROM reg.people WHERE id = 2');
	my $idle = $node->background_psql('postgres');
	my $idle_pid = $idle->query_safe('SELECT pg_backend_pid()');

	my $w = start_writer($node, 'clerk', $tag, $base, $statements);
	ok($w->{wait_for}->(150), "$tag: the counterpart is under way");
	my $target = $victim eq 'self' ? $w->{pid}->() : $idle_pid;
	ok(kill('KILL', $target), "$tag: kill -9 of the $victim backend");
	eval { $w->{h}->finish };
	like(${ $w->{err} },
		qr/server closed the connection|connection to server was lost|terminating connection/,
		"$tag: the counterpart's connection was cut mid-way");
	eval { $idle->quit };

	ok( wait_until(
			sub {
				my ($r) = $node->psql('postgres', 'SELECT 1');
				return $r == 0;
			}),
		"$tag: the server is back after the crash restart");
	wait_worker($node);
	$node->safe_psql('postgres', 'SELECT olink.flush_audit()');

	check_writes($node, $tag, $base, [ $w->{returned}->() ], $income_before, $statements);
	return;
}

round('r1', 10000, 'self');
round('r2', 20000, 'idle');

is(repeated_ids($node), '0', 'no id repeats across the crashes');
is($node->safe_psql('postgres', 'SELECT count(*) FROM olink.verify_audit()'),
	'0', 'the audit store verifies clean after the crashes');
is($node->safe_psql('postgres', 'SELECT lost_events FROM olink.audit_status()'),
	'0', 'no event is counted as lost');

$node->stop;
done_testing();
