import type { en } from './en.ts'

export const fr: Record<keyof typeof en, string> = {
  'site.name': 'Sitrep',
  'error.title': 'Un problème est survenu',
  'error.back': 'Retour aux incidents',
  'errors.not_found': 'Il n’y a rien ici.',
  'errors.unauthorized': 'Connectez-vous d’abord.',
  'errors.forbidden': 'Vous n’avez pas le droit de faire cela.',
  'errors.csrf': 'Ce formulaire a expiré. Rechargez la page et réessayez.',
  'errors.internal': 'Un problème est survenu de notre côté. Réessayez dans un instant.',
  'errors.invalid_request': 'La requête n’est pas valide.',
  'errors.too_large': 'C’est trop volumineux.',
  'errors.rate_limited': 'Trop de tentatives. Réessayez dans {seconds} s.'
}
