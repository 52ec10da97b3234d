# The audit worker terminated: the postmaster starts it again, and nothing queued meanwhile is
# lost.
#   1. pg_terminate_backend(worker) while a counterpart keeps working: a new worker attaches within
#      a few seconds and every statement has its access event.
#   2. The worker away for certain: the postmaster is stopped (SIGSTOP) so that it cannot start a
#      new worker, the worker gets SIGTERM and exits; statements issued now are queued with no
#      worker attached.  Once the postmaster runs again a new worker writes them all.
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use OlinkTAP;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

my $node = olink_node('restart');
olink_counterpart($node, 'clerk');

my $postmaster_stopped = 0;
END
{
	# never leave the postmaster stopped, whatever happened
	kill('CONT', $node->{_pid}) if $postmaster_stopped && $node && $node->{_pid};
}

my $cp = counterpart_psql($node, 'clerk');
my $issued = 0;
my $issue = sub {
	my ($tag) = @_;
	$issued++;
	$cp->query_safe("SELECT name FROM reg.people WHERE id = 1 AND note IS DISTINCT FROM '$tag:$issued'");
};

# 1. pg_terminate_backend
$issue->('t1') for 1 .. 5;
my $old = worker_pid($node);
ok($old ne '', "a worker is attached (pid $old)");
is($node->safe_psql('postgres', "SELECT pg_terminate_backend($old)"), 't', 'pg_terminate_backend(worker)');
my $start = time();
# keep working while it drains, exits and is started again
my $new = '';
while (time() - $start < $OlinkTAP::DEADLINE)
{
	$issue->('t1');
	$new = worker_pid($node);
	last if $new ne '' && $new ne $old;
}
isnt($new, $old, 'a new worker is attached');
isnt($new, '', 'the new worker has a pid');
note sprintf('new worker after %.1f s, %d statements issued meanwhile', time() - $start, $issued - 5);
ok(!kill(0, $old), 'the old worker is gone');
$issue->('t1') for 1 .. 5;
$node->safe_psql('postgres', 'SELECT olink.flush_audit()');
is(access_count($node, q{login = 'clerk' AND statement LIKE '%''t1:%'}),
	$issued, 'every statement has its access event');

# 2. the worker away, for certain
my $t1 = $issued;
my $admin = $node->background_psql('postgres');
my $before = $admin->query_safe('SELECT events_written FROM olink.audit_status()');
$old = worker_pid($node);
$postmaster_stopped = kill('STOP', $node->{_pid});
ok($postmaster_stopped, 'postmaster stopped');
ok(kill('TERM', $old), 'kill -TERM the worker');
ok( wait_until(
		sub {
			$admin->query_safe('SELECT worker_pid IS NULL FROM olink.audit_status()') eq 't';
		}),
	'the worker has detached from the queue');
my $away = 10;
$issue->('t2') for 1 .. $away;
is( $admin->query_safe(q{
SELECT worker_pid IS NULL AND queue_used > 0 AND events_queued - events_written >= 10
  FROM olink.audit_status()}),
	't', 'the statements are queued while no worker runs');
$postmaster_stopped = !kill('CONT', $node->{_pid});
$new = wait_worker($node, $old);
isnt($new, $old, "the postmaster started a new worker (pid $new)");
$admin->query_safe('SELECT olink.flush_audit()');
is(access_count($node, q{login = 'clerk' AND statement LIKE '%''t2:%'}),
	$away, 'every statement queued while the worker was away is written');
cmp_ok($admin->query_safe('SELECT events_written FROM olink.audit_status()'),
	'>=', $before + $away, 'events_written counts them');
$cp->quit;
$admin->quit;

$node->safe_psql('postgres', 'SELECT olink.flush_audit()');
is($node->safe_psql('postgres', q{SELECT count(*) FROM olink.access_log WHERE login = 'clerk'}),
	$issued, 'no statement of the session is missing or doubled');
is( $node->safe_psql('postgres', q{
SELECT string_agg(kind, ',' ORDER BY event_id) || ':' || max(statements)
  FROM olink.connection_log WHERE login = 'clerk'}),
	"login,logout:$issued", 'the session\'s login and logout, with its statement count');
is($node->safe_psql('postgres', 'SELECT lost_events FROM olink.audit_status()'), '0', 'nothing lost');
is($node->safe_psql('postgres', 'SELECT count(*) FROM olink.verify_audit()'),
	'0', 'the audit store verifies clean');

$node->stop;
done_testing();
