// The shifts area's messages, in both languages; en.ts and fr.ts spread them in.
export const shiftsEn = {
}

export const shiftsFr: Record<keyof typeof shiftsEn, string> = {
}
