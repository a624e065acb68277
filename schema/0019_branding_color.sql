-- The sign-in experience's colours (issue 13; Logto's sign-in experience `color`): the primary
-- colour of the hosted sign-in page's buttons, links and focus ring, and a second one for browsers
-- that prefer a dark scheme when isDarkModeEnabled is true. Hex colours (#rgb or #rrggbb, as
-- Logto's hexColorRegEx); the default is Logto's seed (#6139F6, dark mode off). The hosted page
-- reads the column with branding (schema/0003) and applies both itself (core/ui/sign-in.js).
ALTER TABLE sign_in_experiences
    ADD COLUMN color jsonb NOT NULL
        DEFAULT '{"primaryColor": "#6139F6", "isDarkModeEnabled": false, "darkPrimaryColor": "#8C70FF"}';
