-- demo/data.sql — a synthetic municipal resident registry for the olink demo and benchmarks.
--
--   psql -v residents=100000 -f demo/data.sql        (residents defaults to 100000)
--
-- Everything here is made up: names come from small arrays of common Japanese names, addresses
-- from invented town names, and every value is a deterministic function (a hash) of an id, never
-- random(), so the same size gives the same rows on every run and every cluster.  Resident ids are
-- exactly 1..:residents.  Districts are the six wards of Chiba City; postal-code prefixes are the
-- wards' real ones, the rest of every address is invented.
--
-- Run it as a superuser in the database that is to hold the data: it (re)creates schema registry,
-- creates the NOLOGIN role registry_owner when missing and gives it the schema and the tables.
\if :{?residents}
\else
\set residents 100000
\endif
\set ON_ERROR_STOP 1
SET client_min_messages = warning;

SELECT NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'registry_owner') AS need_owner \gset
\if :need_owner
CREATE ROLE registry_owner NOLOGIN;
\endif

DROP SCHEMA IF EXISTS registry CASCADE;
CREATE SCHEMA registry;
COMMENT ON SCHEMA registry IS 'Synthetic resident registry of a municipality (olink demo data)';

-- h(x, salt, n): a deterministic pseudo-random integer in 0..n-1 derived from x
CREATE FUNCTION pg_temp.h(x bigint, salt bigint, n int) RETURNS int
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT abs(hashint8extended(x, salt) % n)::int $$;

-- Tables first, keys and indexes after the bulk load (the usual way to load fast).
CREATE TABLE registry.addresses (
    address_id   bigint NOT NULL,
    district     text NOT NULL,
    postal_code  text,
    street       text,
    building     text
);

CREATE TABLE registry.households (
    household_id bigint NOT NULL,
    address_id   bigint,
    formed_on    date
);

CREATE TABLE registry.residents (
    resident_id      bigint NOT NULL,
    household_id     bigint,
    family_name      text,
    given_name       text,
    family_name_kana text,
    given_name_kana  text,
    birth_date       date,
    sex              text,
    district         text NOT NULL,
    phone            text,
    registered_on    date,
    status           text
);

CREATE TABLE registry.tax_assessments (
    assessment_id  bigint NOT NULL,
    resident_id    bigint,
    fiscal_year    int,
    taxable_income bigint,
    municipal_tax  bigint,
    district       text NOT NULL
);

CREATE TABLE registry.welfare_benefits (
    benefit_id     bigint NOT NULL,
    resident_id    bigint,
    benefit_type   text,
    monthly_amount int,
    started_on     date,
    ended_on       date,
    district       text NOT NULL
);

BEGIN;

-- Households: sizes 1-5 (25/30/20/15/10 %, 2.55 on average), laid end to end so that household h
-- holds residents first..last.  One address per household; the household decides the district.
CREATE TEMP TABLE hh ON COMMIT DROP AS
SELECT h, size,
       sum(size) OVER (ORDER BY h) - size + 1 AS first,
       sum(size) OVER (ORDER BY h) AS last,
       1 + pg_temp.h(h, 1, 20) AS fam,                       -- family name index
       pg_temp.h(h, 2, 2) AS head_female,                    -- 0 male, 1 female
       date '1935-01-01' + pg_temp.h(h, 3, 65 * 365) AS head_birth,
       CASE WHEN d < 21 THEN 1 WHEN d < 39 THEN 2 WHEN d < 55 THEN 3      -- roughly the wards'
            WHEN d < 70 THEN 4 WHEN d < 83 THEN 5 ELSE 6 END AS ward        -- population shares
  FROM (SELECT h,
               CASE WHEN s < 5 THEN 1 WHEN s < 11 THEN 2 WHEN s < 15 THEN 3 WHEN s < 18 THEN 4 ELSE 5 END AS size,
               pg_temp.h(h, 4, 100) AS d
          FROM (SELECT h, pg_temp.h(h, 5, 20) AS s
                  FROM generate_series(1::bigint, :residents / 2 + 100) h) s0) s1;
DELETE FROM hh WHERE first > :residents;
UPDATE hh SET last = :residents WHERE last > :residents;

INSERT INTO registry.addresses (address_id, district, postal_code, street, building)
SELECT hh.h,
       (ARRAY['Chuo','Hanamigawa','Inage','Wakaba','Midori','Mihama'])[hh.ward],
       (ARRAY['260','262','263','264','266','261'])[hh.ward] || '-' || lpad((pg_temp.h(hh.h, 10, 9000) + 1000)::text, 4, '0'),
       (ARRAY['Sakuragaoka','Aobadai','Kashiwagi','Minamicho','Matsunoki','Umegaoka','Takasuna',
              'Nishiyama','Kitahara','Hinode','Wakamatsu','Shiomi','Ochiai','Kaede','Hoshigaoka',
              'Nagisa'])[1 + pg_temp.h(hh.h, 11, 16)]
           || ' ' || (1 + pg_temp.h(hh.h, 12, 5)) || '-chome '
           || (1 + pg_temp.h(hh.h, 13, 30)) || '-' || (1 + pg_temp.h(hh.h, 14, 20)),
       CASE WHEN pg_temp.h(hh.h, 15, 10) < 4 THEN
           (ARRAY['Heights','Court','Residence','Mansion','Terrace','Haitsu'])[1 + pg_temp.h(hh.h, 16, 6)]
           || ' ' || (ARRAY['Aoba','Midori','Sakura','Kaze','Hikari','Asahi','Umi','Sora'])[1 + pg_temp.h(hh.h, 17, 8)]
           || ' ' || (1 + pg_temp.h(hh.h, 18, 8)) || lpad((1 + pg_temp.h(hh.h, 19, 12))::text, 2, '0')
       END
  FROM hh;

-- A household is formed when its head (member 0) is an adult.
INSERT INTO registry.households (household_id, address_id, formed_on)
SELECT hh.h, hh.h,
       least(date '2025-03-31',
             greatest(hh.head_birth + 18 * 365, date '1975-04-01' + pg_temp.h(hh.h, 20, 50 * 365)))
  FROM hh;

-- Residents: member 0 heads the household, member 1 is the spouse (other sex, within five years),
-- members 2+ are children, born 22 years or more after the head, a couple of years apart.
INSERT INTO registry.residents
SELECT m.i, m.h,
       n.fam[m.fam], CASE WHEN m.female = 1 THEN n.fgiven[m.g] ELSE n.mgiven[m.g] END,
       n.fam_kana[m.fam], CASE WHEN m.female = 1 THEN n.fgiven_kana[m.g] ELSE n.mgiven_kana[m.g] END,
       m.birth,
       CASE WHEN m.female = 1 THEN 'F' ELSE 'M' END,
       m.district,
       CASE WHEN m.k >= 2 AND m.birth > date '2010-01-01' THEN NULL
            WHEN pg_temp.h(m.i, 30, 10) < 6 THEN
                (ARRAY['090','080','070'])[1 + pg_temp.h(m.i, 31, 3)] || '-'
                || lpad(pg_temp.h(m.i, 32, 10000)::text, 4, '0') || '-' || lpad(pg_temp.h(m.i, 33, 10000)::text, 4, '0')
            WHEN pg_temp.h(m.i, 30, 10) < 9 THEN      -- the household's landline
                '043-' || (200 + pg_temp.h(m.h, 34, 800)) || '-' || lpad(pg_temp.h(m.h, 35, 10000)::text, 4, '0')
       END,
       greatest(m.birth, m.formed_on),
       CASE WHEN pg_temp.h(m.i, 36, 1000) < 15 THEN 'moved_out'
            WHEN pg_temp.h(m.i, 36, 1000) < 25 AND m.birth < date '1960-01-01' THEN 'deceased'
            ELSE 'resident' END
  FROM (SELECT i, hh.h, i - hh.first AS k, hh.fam, a.district, ho.formed_on,
               CASE WHEN i = hh.first THEN hh.head_female
                    WHEN i = hh.first + 1 THEN 1 - hh.head_female
                    ELSE pg_temp.h(i, 40, 2) END AS female,
               1 + pg_temp.h(i, 41, 12) AS g,
               CASE WHEN i = hh.first THEN hh.head_birth
                    WHEN i = hh.first + 1 THEN hh.head_birth + (pg_temp.h(i, 42, 3650) - 1825)
                    ELSE least(date '2025-03-31', hh.head_birth + (22 + 2 * (i - hh.first - 2))::int * 365
                                                  + pg_temp.h(i, 43, 6 * 365)) END AS birth
          FROM hh
          JOIN registry.addresses a ON a.address_id = hh.h
          JOIN registry.households ho ON ho.household_id = hh.h
          CROSS JOIN LATERAL generate_series(hh.first, hh.last) i) m
 CROSS JOIN (SELECT
     ARRAY['佐藤','鈴木','高橋','田中','伊藤','渡辺','山本','中村','小林','加藤',
           '吉田','山田','佐々木','山口','松本','井上','木村','林','斎藤','清水'] AS fam,
     ARRAY['サトウ','スズキ','タカハシ','タナカ','イトウ','ワタナベ','ヤマモト','ナカムラ','コバヤシ','カトウ',
           'ヨシダ','ヤマダ','ササキ','ヤマグチ','マツモト','イノウエ','キムラ','ハヤシ','サイトウ','シミズ'] AS fam_kana,
     ARRAY['翔太','大翔','蓮','悠真','湊','健一','誠','浩','隆','大輔','拓也','和夫'] AS mgiven,
     ARRAY['ショウタ','ヒロト','レン','ユウマ','ミナト','ケンイチ','マコト','ヒロシ','タカシ','ダイスケ','タクヤ','カズオ'] AS mgiven_kana,
     ARRAY['陽菜','結衣','葵','凛','芽依','和子','恵子','美咲','由美子','裕子','さくら','直美'] AS fgiven,
     ARRAY['ヒナ','ユイ','アオイ','リン','メイ','カズコ','ケイコ','ミサキ','ユミコ','ユウコ','サクラ','ナオミ'] AS fgiven_kana
 ) n;

-- Tax assessments, fiscal years 2023-2025: everyone who was an adult (18+) on 1 January of the
-- year and had not left.  About a quarter have no taxable income.  Municipal tax: 8 % of taxable
-- income (the rate of a designated city) plus a flat 3,000 yen when there is any income.
INSERT INTO registry.tax_assessments
SELECT row_number() OVER (ORDER BY r.resident_id, fy),
       r.resident_id, fy, t.income,
       CASE WHEN t.income = 0 THEN 0 ELSE round(t.income * 0.08, -2)::bigint + 3000 END,
       r.district
  FROM registry.residents r
 CROSS JOIN generate_series(2023, 2025) fy
 CROSS JOIN LATERAL (SELECT CASE WHEN pg_temp.h(r.resident_id, 50, 100) < 25 THEN 0::bigint
                                 ELSE round((800000 + pg_temp.h(r.resident_id, 51, 9000) * 1000::bigint)
                                            * (95 + pg_temp.h(r.resident_id * 10 + fy, 52, 11)) / 100.0, -3)::bigint
                            END AS income) t
 WHERE r.birth_date <= make_date(fy - 18, 1, 1)
   AND r.registered_on < make_date(fy, 1, 1)
   AND r.status <> 'moved_out';

-- Welfare benefits for about 5 % of residents, one each: long-term care only for the elderly,
-- child-rearing allowance only for adults of working age, disability support for minors.
INSERT INTO registry.welfare_benefits
SELECT row_number() OVER (ORDER BY r.resident_id),
       r.resident_id, b.kind,
       (ARRAY[80000, 30000, 45000, 60000, 42000])[b.k] + 100 * pg_temp.h(r.resident_id, 61, 200),
       s.started_on,
       CASE WHEN pg_temp.h(r.resident_id, 62, 10) < 3
            THEN least(s.started_on + 180 + pg_temp.h(r.resident_id, 63, 1500), date '2025-12-31') END,
       r.district
  FROM registry.residents r
 CROSS JOIN LATERAL (SELECT CASE WHEN r.birth_date < date '1960-01-01' THEN (ARRAY[1, 2, 3, 4])[1 + pg_temp.h(r.resident_id, 60, 4)]
                                 WHEN r.birth_date > date '2007-04-01' THEN 4
                                 ELSE (ARRAY[1, 2, 4, 5])[1 + pg_temp.h(r.resident_id, 60, 4)] END AS k) kk
 CROSS JOIN LATERAL (SELECT kk.k,
                            (ARRAY['livelihood_assistance','housing_allowance','long_term_care',
                                   'disability_support','child_rearing_allowance'])[kk.k] AS kind) b
 CROSS JOIN LATERAL (SELECT greatest(r.registered_on, date '2012-04-01' + pg_temp.h(r.resident_id, 64, 4500)) AS started_on) s
 WHERE pg_temp.h(r.resident_id, 65, 20) = 0
   AND r.status = 'resident';

COMMIT;

-- Keys, references and indexes, built once over the loaded rows.
ALTER TABLE registry.addresses ADD PRIMARY KEY (address_id);
ALTER TABLE registry.households ADD PRIMARY KEY (household_id),
    ADD FOREIGN KEY (address_id) REFERENCES registry.addresses;
ALTER TABLE registry.residents ADD PRIMARY KEY (resident_id),
    ADD FOREIGN KEY (household_id) REFERENCES registry.households;
ALTER TABLE registry.tax_assessments ADD PRIMARY KEY (assessment_id),
    ADD FOREIGN KEY (resident_id) REFERENCES registry.residents;
ALTER TABLE registry.welfare_benefits ADD PRIMARY KEY (benefit_id),
    ADD FOREIGN KEY (resident_id) REFERENCES registry.residents;
CREATE INDEX ON registry.residents (household_id);
CREATE INDEX ON registry.residents (district);
CREATE INDEX ON registry.residents (family_name_kana, given_name_kana);
CREATE INDEX ON registry.tax_assessments (resident_id, fiscal_year);
CREATE INDEX ON registry.welfare_benefits (resident_id);

COMMENT ON TABLE registry.addresses IS 'Addresses of households (synthetic)';
COMMENT ON TABLE registry.households IS 'Households (世帯) and the address each lives at';
COMMENT ON TABLE registry.residents IS 'Basic resident register (住民基本台帳), one row per resident';
COMMENT ON TABLE registry.tax_assessments IS 'Municipal resident tax assessments per fiscal year';
COMMENT ON TABLE registry.welfare_benefits IS 'Welfare benefits paid to residents';

-- The data belongs to the registry department's role, not to the superuser that loaded it.
ALTER SCHEMA registry OWNER TO registry_owner;
ALTER TABLE registry.addresses OWNER TO registry_owner;
ALTER TABLE registry.households OWNER TO registry_owner;
ALTER TABLE registry.residents OWNER TO registry_owner;
ALTER TABLE registry.tax_assessments OWNER TO registry_owner;
ALTER TABLE registry.welfare_benefits OWNER TO registry_owner;

-- Fail loudly (psql exits non-zero) rather than leave a registry of the wrong size.
SELECT count(*) = :residents AND min(resident_id) = 1 AND max(resident_id) = :residents AS size_ok
  FROM registry.residents \gset
\if :size_ok
\else
\echo 'data.sql: registry.residents does not hold exactly the ids 1 to' :residents
DO $$ BEGIN RAISE EXCEPTION 'registry.residents has the wrong size'; END $$;
\endif

ANALYZE registry.addresses, registry.households, registry.residents,
        registry.tax_assessments, registry.welfare_benefits;
