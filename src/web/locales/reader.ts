// What the thread page's script says to a reader, in both languages; en.ts and
// fr.ts spread them in. The page hands them to the script as data attributes.
export const readerEn = {
  'reader.away': 'While you were away: {news}.',
  'reader.updates.one': '{count} official update',
  'reader.updates.other': '{count} official updates',
  'reader.comments.one': '{count} comment',
  'reader.comments.other': '{count} comments',
  'reader.draftKept': 'Your unsent text was kept in this browser.',
  'reader.preview': 'Preview',
  'reader.previewLabel': 'Preview of the message',
  'reader.previewFailed': 'The preview could not be made. The message can still be sent.'
}

export const readerFr: Record<keyof typeof readerEn, string> = {
  'reader.away': 'Pendant votre absence : {news}.',
  'reader.updates.one': '{count} point de situation',
  'reader.updates.other': '{count} points de situation',
  'reader.comments.one': '{count} commentaire',
  'reader.comments.other': '{count} commentaires',
  'reader.draftKept': 'Votre texte non envoyé a été conservé dans ce navigateur.',
  'reader.preview': 'Aperçu',
  'reader.previewLabel': 'Aperçu du message',
  'reader.previewFailed': 'L’aperçu n’a pas pu être fait. Le message peut tout de même être envoyé.'
}
