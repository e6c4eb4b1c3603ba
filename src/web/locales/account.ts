// The account page, where a signed-in user changes their password, in both
// languages; en.ts and fr.ts spread them in.
export const accountEn = {
  'account.link': 'Your account',
  'account.title': 'Your account',
  'account.role': 'Role',
  'account.name.title': 'Your name',
  'account.name.hint': 'Shown beside your posts and comments, the earlier ones too.',
  'account.name.submit': 'Change my name',
  'account.name.changed': 'Your name is changed.',
  'account.password.title': 'Change your password',
  'account.password.current': 'Current password',
  'account.password.new': 'New password',
  'account.password.hint': 'At least {min} characters. A few unrelated words make a password that is strong and easy to remember.',
  'account.password.again': 'New password, once more',
  'account.password.revokeTokens.one': 'Also revoke my API token: a script that uses it stops working',
  'account.password.revokeTokens.other': 'Also revoke my {count} API tokens: scripts that use them stop working',
  'account.password.elsewhere': 'Every other browser and device signed in to your account is signed out, and must sign in again with the new password.',
  'account.password.submit': 'Change my password',
  'account.password.changed': 'Your password is changed. You are signed out everywhere else.',
  'errors.wrong_password': 'The current password is not right.',
  'errors.password_mismatch': 'The two new passwords differ. Type the same one twice.',
  'errors.password_unchanged': 'The new password is the same as the current one.',
  'errors.password_changed': 'The password was changed meanwhile. Sign in again with the new one.'
}

export const accountFr: Record<keyof typeof accountEn, string> = {
  'account.link': 'Mon compte',
  'account.title': 'Mon compte',
  'account.role': 'Rôle',
  'account.name.title': 'Votre nom',
  'account.name.hint': 'Affiché à côté de vos messages et commentaires, y compris les plus anciens.',
  'account.name.submit': 'Changer mon nom',
  'account.name.changed': 'Votre nom est changé.',
  'account.password.title': 'Changer de mot de passe',
  'account.password.current': 'Mot de passe actuel',
  'account.password.new': 'Nouveau mot de passe',
  'account.password.hint': 'Au moins {min} caractères. Quelques mots sans rapport entre eux font un mot de passe solide et facile à retenir.',
  'account.password.again': 'Nouveau mot de passe, une seconde fois',
  'account.password.revokeTokens.one': 'Révoquer aussi mon jeton d’API : un script qui s’en sert cessera de fonctionner',
  'account.password.revokeTokens.other': 'Révoquer aussi mes {count} jetons d’API : les scripts qui s’en servent cesseront de fonctionner',
  'account.password.elsewhere': 'Tous les autres navigateurs et appareils connectés à votre compte sont déconnectés et devront se reconnecter avec le nouveau mot de passe.',
  'account.password.submit': 'Changer mon mot de passe',
  'account.password.changed': 'Votre mot de passe est changé. Vos sessions sur les autres navigateurs et appareils sont fermées.',
  'errors.wrong_password': 'Le mot de passe actuel n’est pas le bon.',
  'errors.password_mismatch': 'Les deux nouveaux mots de passe diffèrent. Tapez deux fois le même.',
  'errors.password_unchanged': 'Le nouveau mot de passe est identique à l’actuel.',
  'errors.password_changed': 'Le mot de passe a été changé entre-temps. Reconnectez-vous avec le nouveau.'
}
