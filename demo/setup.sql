-- demo/setup.sql — the municipality's DBA registers two online connections with olink.
--
--   psql -f demo/setup.sql        (as a superuser, in the database demo/data.sql loaded)
--
-- The server must run with shared_preload_libraries = 'olink'.  What is registered here:
--   protected tables   the five tables of schema registry, which hold personal information
--   prefecture_tax     Chiba Prefecture's tax office, purpose 'tax-assessment'; login tax_clerk1
--   welfare_contractor the contractor running the city's welfare benefit service, purpose
--                      'welfare-benefit'; login welfare_op1
-- and each counterpart's grants: which table, which privileges, which columns, which rows, for
-- which purpose.  Everything else is refused to those logins.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;

CREATE EXTENSION olink;

-- Tables that hold personal information.  Protecting a table turns row level security on, so a
-- counterpart sees no row without a grant; internal roles are not affected.
SELECT olink.protect(relation => 'registry.addresses',
                     description => 'Addresses of households: postal code, street, building');
SELECT olink.protect(relation => 'registry.households',
                     description => 'Households and where they live');
SELECT olink.protect(relation => 'registry.residents',
                     description => 'Basic resident register: names, birth dates, sex, phone numbers');
SELECT olink.protect(relation => 'registry.tax_assessments',
                     description => 'Municipal resident tax assessments: taxable income and tax per fiscal year');
SELECT olink.protect(relation => 'registry.welfare_benefits',
                     description => 'Welfare benefits paid to residents: type, monthly amount, period');

-- Clause 5: each connection is justified by a public-interest need, approved by the review board.
SELECT olink.add_counterpart(
    name        => 'prefecture_tax',
    necessity   => 'The Chiba Prefecture tax office assesses the prefectural part of the individual '
                   'resident tax together with the city.  Reading the resident and assessment data '
                   'on line spares residents from obtaining and submitting tax certificates, and '
                   'lets both offices assess from the same figures.',
    approved_by => 'Chiba City Personal Information Protection Review Board',
    approved_on => '2025-02-14');

SELECT olink.add_counterpart(
    name        => 'welfare_contractor',
    necessity   => 'The city has contracted out the operation of its welfare benefit service.  The '
                   'contractor''s operators need the beneficiaries'' contact details and benefit '
                   'records of the wards they serve to process applications and changes the same day, '
                   'instead of waiting for paper transfers.',
    approved_by => 'Chiba City Personal Information Protection Review Board',
    approved_on => '2025-02-14');

-- Clause 6(1): the memorandum or contract with each counterpart.  Its purposes are the only ones
-- grants may use and sessions may declare.
SELECT olink.add_agreement(
    counterpart    => 'prefecture_tax',
    title          => 'Memorandum on on-line provision of resident tax data (FY2025)',
    purposes       => ARRAY['tax-assessment'],
    valid_from     => '2025-04-01',
    staff_duties   => 'Only named clerks of the prefectural tax division handle the data, each with an '
                      'individual login; the division head keeps the list of clerks and reviews it monthly.',
    disposal_terms => 'Data read for an assessment is deleted or shredded once the assessment is final, '
                      'and no later than the end of the following fiscal year.',
    other_measures => 'No use or provision to third parties outside the assessment of resident tax.');

SELECT olink.add_agreement(
    counterpart    => 'welfare_contractor',
    title          => 'Welfare benefit service operation contract (FY2025-FY2027)',
    purposes       => ARRAY['welfare-benefit'],
    valid_from     => '2025-04-01',
    valid_until    => '2028-04-01',
    staff_duties   => 'Operators are named in the contract annex, trained before they start, and sign '
                      'a confidentiality undertaking; each works under an individual login.',
    disposal_terms => 'All personal information held by the contractor is erased at the end of the '
                      'contract, and the contractor delivers a certificate of erasure to the city.',
    other_measures => 'Work is done only at the contractor''s registered office; no copies to personal devices.');

-- Clause 6(2)(2)(b)(i)-(ii): individual logins (credentials), one per person, through the
-- workflow: a request, approval by the counterpart's credential manager (never by the requester),
-- then issue, which makes the login, puts it in the counterpart's group and sets its password under
-- olink's password policy.  The DBA files the requests; the managers approve and issue.
DO $roles$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'city_credentials') THEN
        CREATE ROLE city_credentials NOLOGIN IN ROLE olink_credential_manager;
    END IF;
END
$roles$;
SELECT olink.designate_credential_manager(counterpart => 'prefecture_tax', manager => 'city_credentials');
SELECT olink.designate_credential_manager(counterpart => 'welfare_contractor', manager => 'city_credentials');
SELECT olink.request_credential(counterpart => 'prefecture_tax', login => 'tax_clerk1',
                                holder => 'Tax clerk no. 1', requested_by => 'Head of the prefectural tax office') AS tax_request \gset
SELECT olink.request_credential(counterpart => 'welfare_contractor', login => 'welfare_op1',
                                holder => 'Operator no. 1', requested_by => 'Contractor''s site manager') AS welfare_request \gset
SET SESSION AUTHORIZATION city_credentials;
SELECT olink.approve_credential(:tax_request);
SELECT olink.approve_credential(:welfare_request);
SELECT olink.issue_credential(:tax_request, 'Demo-Only-Tax-Clerk-1');
SELECT olink.issue_credential(:welfare_request, 'Demo-Only-Welfare-Op-1');
RESET SESSION AUTHORIZATION;

-- Clauses 6(2)(1)(a) and 7(1)(c): the terminals each counterpart may connect from, with the person
-- responsible.  In the demo every client is 127.0.0.1, which stands for a dedicated line (a terminal
-- on a public line would also need TLS, and may require its client certificate).
SELECT olink.add_terminal(counterpart => 'prefecture_tax', name => 'tax-office-pc-1', manager => 'Tax office IT officer',
                          addresses => '{127.0.0.1/32}', dedicated_line => true);
SELECT olink.add_terminal(counterpart => 'welfare_contractor', name => 'contractor-office-pc-1',
                          manager => 'Contractor''s site manager', addresses => '{127.0.0.1/32}', dedicated_line => true);

-- Clause 6(2)(2)(a): access qualifications.
-- The tax office: who the residents are (no phone, no kana, no household), and the assessments of
-- the fiscal years it still works on.
SELECT olink.grant_access(
    counterpart => 'prefecture_tax',
    relation    => 'registry.residents',
    privileges  => ARRAY['select'],
    columns     => ARRAY['resident_id', 'family_name', 'given_name', 'birth_date', 'district'],
    purposes    => ARRAY['tax-assessment']);

SELECT olink.grant_access(
    counterpart => 'prefecture_tax',
    relation    => 'registry.tax_assessments',
    privileges  => ARRAY['select'],
    row_filter  => 'fiscal_year >= 2024',
    purposes    => ARRAY['tax-assessment']);

-- The welfare contractor serves two wards: it may read the contact details of their residents, and
-- read and update their benefit records.  It cannot insert or delete benefits.
SELECT olink.grant_access(
    counterpart => 'welfare_contractor',
    relation    => 'registry.residents',
    privileges  => ARRAY['select'],
    columns     => ARRAY['resident_id', 'family_name', 'given_name', 'district', 'phone'],
    row_filter  => $$district IN ('Chuo','Hanamigawa')$$,
    purposes    => ARRAY['welfare-benefit']);

SELECT olink.grant_access(
    counterpart => 'welfare_contractor',
    relation    => 'registry.welfare_benefits',
    privileges  => ARRAY['select', 'update'],
    columns     => NULL,
    row_filter  => $$district IN ('Chuo','Hanamigawa')$$,
    purposes    => ARRAY['welfare-benefit']);
