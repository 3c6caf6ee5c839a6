-- The face-login app keeps its records in its own database now (a relying
-- party does not share the service's). Its old tables stay here, renamed,
-- until the app has copied them into its own store on its next start
-- (webapp/accountsql), which then drops them. Nothing in Presence reads
-- them.
ALTER TABLE app_web_sessions RENAME TO legacy_app_web_sessions;
ALTER TABLE app_attempts RENAME TO legacy_app_attempts;
ALTER TABLE app_users RENAME TO legacy_app_users;
