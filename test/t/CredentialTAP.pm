# Helpers of the credential tests (009_terminals.pl, 010_revocation.pl): credentials made through
# the real workflow, logins over TCP with a connection string of their own, long-lived psql
# sessions that can be watched while they are cut off, and a TCP relay that makes a connection
# come from another loopback address.
package CredentialTAP;

use strict;
use warnings;

use Exporter 'import';
use IO::Select;
use IO::Socket::INET;
use IPC::Run;
use POSIX ();
use Test::More;
use Time::HiRes qw(usleep time);

our @EXPORT = qw(credential_staff issue_through_workflow try_login session_start session_query
  session_query_async session_wait session_send session_finish session_alive start_relay stop_relay);

# how long a session or a login may take before the test fails
our $DEADLINE = 60;

# The people of the workflow: "officer" requests credentials, "manager" (the counterparts'
# designated credential manager) approves and issues them.  Both are members of
# olink_credential_manager; @counterparts get "manager" as their credential manager.
sub credential_staff
{
	my ($node, @counterparts) = @_;
	my $sql = q{
DO $$BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'officer') THEN CREATE ROLE officer LOGIN; END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'manager') THEN CREATE ROLE manager LOGIN; END IF;
END$$;
GRANT olink_credential_manager TO officer, manager;
};
	$sql .= "SELECT olink.designate_credential_manager('$_', 'manager');\n" for @counterparts;
	$node->safe_psql('postgres', $sql);
	return;
}

# request (as officer), approve and issue (as manager) a credential of $counterpart; the password
# is set by issue_credential.  %opts: setup => SQL run in the issuing session before the issue (a
# SET of olink.password_max_age, say).  Returns the request id.
sub issue_through_workflow
{
	my ($node, $counterpart, $login, $password, %opts) = @_;
	my $id = $node->safe_psql(
		'postgres', qq{
SET SESSION AUTHORIZATION officer;
SELECT olink.request_credential(counterpart => '$counterpart', login => '$login', holder => 'holder of $login');
});
	$node->safe_psql(
		'postgres', qq{
SET SESSION AUTHORIZATION manager;
SELECT olink.approve_credential($id);
});
	$node->safe_psql(
		'postgres', ($opts{setup} || '') . qq{
SET SESSION AUTHORIZATION manager;
SELECT olink.issue_credential($id, '$password');
});
	return $id;
}

# one psql connection with a connection string of its own (never prompting): ($ret, $stdout, $stderr)
sub try_login
{
	my ($connstr, $sql) = @_;
	my ($out, $err) = ('', '');
	IPC::Run::run([ 'psql', '-XAtqw', '-d', $connstr, '-c', $sql // 'SELECT 1' ],
		'<', \undef, '>', \$out, '2>', \$err, IPC::Run::timeout($DEADLINE));
	my $ret = $? >> 8;
	chomp $out;
	return ($ret, $out, $err);
}

# A long-lived psql session (psql -XAtq, ON_ERROR_STOP off) fed from a string: a hash with h (the
# IPC::Run harness), in, out, err.  Dies if it cannot run a first statement.
sub session_start
{
	my ($connstr) = @_;
	my $s = { in => '', out => '', err => '', n => 0 };
	$s->{h} = IPC::Run::start([ 'psql', '-XAtqw', '-v', 'ON_ERROR_STOP=0', '-d', $connstr, '-f', '-' ],
		'<', \$s->{in}, '>', \$s->{out}, '2>', \$s->{err}, IPC::Run::timeout($DEADLINE));
	my ($ok) = session_query($s, 'SELECT 1');
	die "session did not start: $s->{err}" unless defined $ok && $ok eq '1';
	return $s;
}

# sends $sql to the session followed by a marker, without waiting: the marker, for session_wait
sub session_query_async
{
	my ($s, $sql) = @_;
	my $mark = '__done_' . ++$s->{n} . '__';
	$s->{in} .= "$sql\n;\n\\echo $mark\n";
	eval { $s->{h}->pump_nb; 1 };
	return $mark;
}

# waits for the statements sent with $mark to finish: their stdout (undef if the session ended
# first); in list context also the stderr they printed
sub session_wait
{
	my ($s, $mark) = @_;
	while ($s->{out} !~ /^\Q$mark\E$/m)
	{
		last unless $s->{h}->pumpable;
		eval { $s->{h}->pump; 1 } or last;
	}
	my $at = index($s->{out}, "$mark\n");
	my ($out, $done) = $at >= 0 ? (substr($s->{out}, 0, $at), 1) : ($s->{out}, 0);
	$s->{out} = $at >= 0 ? substr($s->{out}, $at + length("$mark\n")) : '';
	chomp $out;
	my $err = $s->{err};
	$s->{err_seen} = length $err;
	return wantarray ? ($done ? $out : undef, $err) : ($done ? $out : undef);
}

# runs $sql in the session and waits for it to finish: its stdout (undef if the session ended
# first); in list context also everything the session printed to stderr since the previous call
sub session_query
{
	my ($s, $sql) = @_;
	my $from = $s->{err_seen} // 0;
	unless (session_alive($s))
	{
		return wantarray ? (undef, substr($s->{err}, $from)) : undef;
	}
	my ($out) = session_wait($s, session_query_async($s, $sql));
	return wantarray ? ($out, substr($s->{err}, $from)) : $out;
}

# sends $sql without waiting for it
sub session_send
{
	my ($s, $sql) = @_;
	$s->{in} .= "$sql\n";
	eval { $s->{h}->pump_nb; 1 };
	return;
}

# is the psql process still running?  (reads what it printed meanwhile)
sub session_alive
{
	my ($s) = @_;
	eval { $s->{h}->pump_nb; 1 };
	return $s->{h}->pumpable ? 1 : 0;
}

# ends the session (quits psql if it still runs): everything it wrote to stderr
sub session_finish
{
	my ($s) = @_;
	$s->{in} .= "\\q\n" if session_alive($s);
	eval { $s->{h}->finish; 1 } or eval { $s->{h}->kill_kill; 1 };
	return $s->{err};
}

# A TCP relay in a process of its own: listens on 127.0.0.1 (a free port) and copies each
# connection, both ways and untouched (TLS included), to 127.0.0.1:$to_port from the local
# address $from (127.0.0.2, say), so the server sees the client at $from.  Returns (pid, port).
sub start_relay
{
	my ($to_port, $from) = @_;
	my $listen = IO::Socket::INET->new(
		LocalAddr => '127.0.0.1',
		LocalPort => 0,
		Listen => 16,
		ReuseAddr => 1,
		Proto => 'tcp') or die "relay: cannot listen: $!";
	my $port = $listen->sockport;
	my $pid = fork() // die "relay: cannot fork: $!";
	if ($pid == 0)
	{
		# never run the test's END blocks (they would stop its servers): leave with _exit
		$SIG{CHLD} = 'IGNORE';
		$SIG{TERM} = sub { POSIX::_exit(0) };
		while (1)
		{
			my $client = $listen->accept or next;
			my $child = fork();
			if (!defined $child || $child != 0)
			{
				close $client;
				next;
			}
			$SIG{TERM} = 'DEFAULT';
			close $listen;
			my $server = IO::Socket::INET->new(
				PeerAddr => '127.0.0.1',
				PeerPort => $to_port,
				LocalAddr => $from,
				Proto => 'tcp') or POSIX::_exit(1);
			my $sel = IO::Select->new($client, $server);
		  COPY:
			while (1)
			{
				for my $r ($sel->can_read)
				{
					my $n = sysread($r, my $buf, 65536);
					last COPY unless $n;
					my $w = $r == $client ? $server : $client;
					my $off = 0;
					while ($off < $n)
					{
						my $k = syswrite($w, $buf, $n - $off, $off);
						last COPY unless $k;
						$off += $k;
					}
				}
			}
			POSIX::_exit(0);
		}
	}
	close $listen;
	return ($pid, $port);
}

sub stop_relay
{
	my ($pid) = @_;
	kill 'TERM', $pid;
	waitpid($pid, 0);
	return;
}

1;
