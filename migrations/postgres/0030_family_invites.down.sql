-- Back to before 0030: no record of members' family invitations.
DROP INDEX family_invites_lead;
DROP TABLE family_invites;
