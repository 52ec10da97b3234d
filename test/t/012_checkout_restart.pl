# Check-outs are records, not PostgreSQL locks: they outlive the holder's session and a restart of
# the server (clean or after a crash), and still end at their expiry.
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use OlinkTAP;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = olink_node('checkout');
$node->safe_psql('postgres', q{
CREATE TABLE res (id int PRIMARY KEY, name text);
INSERT INTO res SELECT g, 'r' || g FROM generate_series(1, 3) g;
SELECT olink.protect('res', 'residents');
CREATE ROLE holder LOGIN;
GRANT SELECT, UPDATE ON res TO holder;
GRANT USAGE ON SCHEMA olink TO holder;
GRANT EXECUTE ON FUNCTION olink.checkout(regclass, jsonb, interval, interval), olink.checkin(bigint) TO holder;
});

# the holder's session takes two records and ends
my $long = $node->safe_psql('postgres', q{SELECT olink.checkout('res', '{"id": 1}', '1 hour')},
	extra_params => [ '-U', 'holder' ]);
my $short = $node->safe_psql('postgres', q{SELECT olink.checkout('res', '{"id": 2}', '4 seconds')},
	extra_params => [ '-U', 'holder' ]);
like($long, qr/^\d+$/, 'a check-out, from a session that then ends');

sub update_fails
{
	my ($id) = @_;
	my ($ret, $out, $err) = $node->psql('postgres', "UPDATE res SET name = 'dba' WHERE id = $id");
	return $ret != 0 && $err =~ /is checked out by "holder"/;
}

ok(update_fails(1), 'the record stays held after the holder\'s session ended');

$node->restart;
wait_worker($node);
ok(update_fails(1), 'and after a clean restart');

$node->stop('immediate');
$node->start;
wait_worker($node);
ok(update_fails(1), 'and after a crash (immediate shutdown)');

# the short one expires, whether or not the server restarted in between
ok(wait_until(sub { !update_fails(2) }, 20), 'a check-out ends at its expiry');
is($node->safe_psql('postgres', "SELECT state FROM olink.locks WHERE lock_id = $short"), 'expired',
	'olink.locks says it expired');

# the holder, in a new session, is still the holder
is($node->safe_psql('postgres', q{UPDATE res SET name = 'holder' WHERE id = 1 RETURNING name},
	extra_params => [ '-U', 'holder' ]), 'holder', 'the holder updates the record from a new session');
$node->safe_psql('postgres', "SELECT olink.checkin($long)", extra_params => [ '-U', 'holder' ]);
ok(!update_fails(1), 'checked in: anyone may update it again');

done_testing();
