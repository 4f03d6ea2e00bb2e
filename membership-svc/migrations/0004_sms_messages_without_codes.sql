-- MP-4: codes are stored only as keyed hashes (sms_codes). The recording sender keeps each
-- message with its code masked from now on; mask what earlier versions kept in clear.
UPDATE membership.sms_messages
SET body = regexp_replace(body, '[0-9]{6}', '******', 'g')
WHERE body ~ '[0-9]{6}';
