-- An email domain sends sign-ins to an organization's provider only once the organization has shown
-- it holds the domain: a DNS TXT record at _gatehouse-challenge.<domain> with the domain's challenge,
-- or the platform admin's word. Until then the claim is kept but routes nobody. Claims made before
-- this release were already in use: they count as verified (verified_by 'before_proof').
ALTER TABLE sso_domains ADD COLUMN challenge text;
ALTER TABLE sso_domains ADD COLUMN verified_at timestamptz;
ALTER TABLE sso_domains ADD COLUMN verified_by text;
UPDATE sso_domains SET verified_at = now(), verified_by = 'before_proof';
