// The moderation area's messages, in both languages; en.ts and fr.ts spread them in.
export const moderationEn = {
}

export const moderationFr: Record<keyof typeof moderationEn, string> = {
}
