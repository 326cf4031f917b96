-- Stackwright's own database, next to Temporal's (setup-schema.sh creates those).
CREATE USER stackwright PASSWORD 'stackwright';
CREATE DATABASE stackwright OWNER stackwright;
