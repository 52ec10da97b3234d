-- Stand-in for demo/data.sql while the demo's generator does not exist: schema registry with a
-- registry.residents of the same shape, deterministic (the same rows on every cluster).
--   psql -v residents=100000 -f fallback-data.sql
\if :{?residents}
\else
\set residents 100000
\endif
\set ON_ERROR_STOP 1
SET client_min_messages = warning;

DROP SCHEMA IF EXISTS registry CASCADE;
CREATE SCHEMA registry;

CREATE TABLE registry.residents (
    resident_id      bigint PRIMARY KEY,
    household_id     bigint NOT NULL,
    family_name      text NOT NULL,
    given_name       text NOT NULL,
    family_name_kana text NOT NULL,
    given_name_kana  text NOT NULL,
    birth_date       date NOT NULL,
    sex              text NOT NULL,
    district         text NOT NULL,
    phone            text,
    registered_on    date NOT NULL,
    status           text NOT NULL
);

INSERT INTO registry.residents
SELECT i,
       (i + 2) / 3,
       (ARRAY['佐藤','鈴木','高橋','田中','伊藤','渡辺','山本','中村','小林','加藤'])[1 + (i * 7919) % 10],
       (ARRAY['翔太','陽菜','蓮','結衣','大翔','葵','悠真','凛','湊','芽依','健一','和子'])[1 + (i * 104729) % 12],
       (ARRAY['サトウ','スズキ','タカハシ','タナカ','イトウ','ワタナベ','ヤマモト','ナカムラ','コバヤシ','カトウ'])[1 + (i * 7919) % 10],
       (ARRAY['ショウタ','ヒナ','レン','ユイ','ヒロト','アオイ','ユウマ','リン','ミナト','メイ','ケンイチ','カズコ'])[1 + (i * 104729) % 12],
       date '1930-01-01' + (i * 2654435761 % 33000)::int,
       CASE WHEN i % 2 = 0 THEN 'F' ELSE 'M' END,
       (ARRAY['Chuo','Hanamigawa','Inage','Wakaba','Midori','Mihama'])[1 + (i * 31) % 6],
       CASE WHEN i % 5 = 0 THEN NULL ELSE '043-' || lpad(((i * 48271) % 10000)::text, 4, '0') || '-' || lpad((i % 10000)::text, 4, '0') END,
       date '1990-04-01' + (i * 40503 % 12000)::int,
       CASE WHEN i % 97 = 0 THEN 'moved_out' WHEN i % 89 = 0 THEN 'deceased' ELSE 'resident' END
  FROM generate_series(1::bigint, :residents) i;
