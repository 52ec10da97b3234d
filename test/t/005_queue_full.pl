# A full audit queue (olink.audit_queue_size = 256kB, the worker frozen with SIGSTOP):
#   - olink.queue_full = error: the statement that finds no room fails with SQLSTATE 53000
#     "audit queue is full";
#   - olink.queue_full = wait: the statement waits (wait event Extension) until the worker, sent
#     SIGCONT, makes room, and then completes;
#   - nothing is dropped silently: every statement that completed has its access event, and the
#     error event of the refused statement, which could not be queued either, is on record as a
#     count of lost events.
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use OlinkTAP;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

my $node = olink_node('queuefull', conf => "olink.audit_queue_size = 256\n");
olink_counterpart($node, 'clerk_err', 'clerk_wait');
$node->safe_psql('postgres', q{
ALTER ROLE clerk_err SET olink.queue_full = 'error';
ALTER ROLE clerk_wait SET olink.queue_full = 'wait';
});
is($node->safe_psql('postgres', 'SELECT queue_bytes FROM olink.audit_status()'),
	256 * 1024, 'the queue has 256kB');

# a statement whose event takes about 20kB of the queue
my $long = 'x' x 20000;
sub long_statement
{
	my ($tag) = @_;
	return "SELECT id FROM reg.people WHERE id = 1 AND note IS DISTINCT FROM '$tag:$long'";
}

# both sessions log in while there is room
my $err_s = counterpart_psql($node, 'clerk_err');
$err_s->query_safe('\set VERBOSITY verbose');
my $wait_s = counterpart_psql($node, 'clerk_wait');
my $wait_pid = $wait_s->query_safe('SELECT pg_backend_pid()');
$node->safe_psql('postgres', 'SELECT olink.flush_audit()');

my $worker = worker_pid($node);
my $frozen = 0;
END
{
	# never leave the worker stopped
	kill('CONT', $worker) if $frozen;
}
$frozen = kill('STOP', $worker);
ok($frozen, "audit worker $worker frozen");

# queue_full = error: fill the queue until a statement is refused
my ($ok_count, $refusal, $refusal_took) = (0, '', 0);
for my $i (1 .. 40)
{
	my $t0 = time();
	my ($out, $failed) = $err_s->query(long_statement("err-$i"));
	if ($failed)
	{
		$refusal_took = time() - $t0;
		$refusal = $err_s->{stderr};
		$err_s->{stderr} = '';
		last;
	}
	$ok_count++;
}
like($refusal, qr/ERROR:  53000: audit queue is full/, 'queue_full = error: refused with SQLSTATE 53000');
like($refusal, qr/olink.queue_full is set to "error"/, 'the refusal says why');
cmp_ok($ok_count, '>=', 5, "$ok_count statements fitted before the refusal");
cmp_ok($ok_count, '<=', 13, 'the queue holds no more than 256kB of events');
# (the refused statement's own error event does not wait for room either: it is counted as lost)
cmp_ok($refusal_took, '<', 2.5,
	sprintf('queue_full = error refuses without waiting for the worker (took %.1f s)', $refusal_took));
my ($size, $used) = split /\|/,
  $node->safe_psql('postgres', 'SELECT queue_bytes, queue_used FROM olink.audit_status()');
cmp_ok($used, '>', $size - 21000, "the queue is full ($used of $size bytes)");

# queue_full = wait: the statement waits for room
$wait_s->{stdin} .= long_statement('wait-1') . ";\n\\echo wait-1-done\n";
$wait_s->{run}->pump_nb;
ok( wait_until(
		sub {
			$node->safe_psql('postgres',
				"SELECT state || '/' || wait_event_type FROM pg_stat_activity WHERE pid = $wait_pid") eq
			  'active/Extension';
		}),
	'queue_full = wait: the statement waits (wait event Extension)');
$wait_s->{run}->pump_nb;
unlike($wait_s->{stdout}, qr/wait-1-done/, 'and has not completed');

# the worker makes room: the waiting statement completes
$frozen = !kill('CONT', $worker);
ok(!$frozen, 'audit worker continued');
my $got = $wait_s->query_until(qr/wait-1-done/, '');
like($got, qr/^1\nwait-1-done/m, 'the waiting statement completed with its result');
$wait_s->query_safe(long_statement("wait-$_")) for 2 .. 4;
$err_s->query_safe(long_statement('err-after'));
$wait_s->quit;
$err_s->quit;
$node->safe_psql('postgres', 'SELECT olink.flush_audit()');

# nothing dropped silently
is( access_count($node, q{login = 'clerk_wait' AND statement LIKE '%wait-%'}),
	'4', 'queue_full = wait: every statement has its access event');
is( access_count($node,
		q{login = 'clerk_err' AND statement LIKE '%err-%' AND outcome = 'allowed'}),
	$ok_count + 1, 'queue_full = error: every statement that completed has its access event');
my $refused_logged = access_count($node,
	qq{login = 'clerk_err' AND statement LIKE '%err-@{[$ok_count + 1]}:%' AND sqlstate = '53000'});
my $lost_logged = access_count($node,
	q{command = 'AUDIT' AND sqlstate = '53000' AND message ~ '^1 audit events could not be queued'});
is($refused_logged + $lost_logged, 1,
	'the refused statement is on record: its own event, or a count of lost events');
is($node->safe_psql('postgres', 'SELECT lost_events FROM olink.audit_status()'),
	'0', 'the lost count is written and cleared');
is( $node->safe_psql('postgres', q{
SELECT string_agg(login || ':' || kind, ',' ORDER BY login, event_id) FROM olink.connection_log}),
	'clerk_err:login,clerk_err:logout,clerk_wait:login,clerk_wait:logout',
	'logins and logouts are on record');
is($node->safe_psql('postgres', 'SELECT count(*) FROM olink.verify_audit()'),
	'0', 'the audit store verifies clean');

# the longest statement still fits the smallest queue: its text is cut, not refused (an event may
# carry 64kB of statement and 8kB per other field)
my ($r, $out, $err) = psql_as($node, 'clerk_wait',
	"SELECT id FROM reg.people WHERE id = 1 AND note IS DISTINCT FROM 'huge:" . ('y' x 100000) . "'");
is("$r|$err", '0|', 'a 100kB statement runs with the 256kB queue');
$node->safe_psql('postgres', 'SELECT olink.flush_audit()');
is( access_count($node, q{statement LIKE '%''huge:%' AND statement LIKE '%/* olink: cut */'
                            AND length(statement) < 70000}),
	'1', 'its access event has the statement cut');

$node->stop;
done_testing();
