// CRC-16/IBM (also CRC-16/ARC), the check the platform appends to every MQTT download block
// (docs/ALIYUN.md): polynomial 0x8005 processed reflected (0xA001), initial value 0, no final XOR.

/** CRC-16/IBM of a byte string ("123456789" gives 0xBB3D). */
export const crc16 = (bytes: string): number => {
  // a 16-entry table, one nibble at a time: 2 lookups per byte instead of 8 shift steps,
  // and 16 numbers instead of 256 while a block is checked (built per call: 64 steps)
  const table: number[] = [];
  let crc = 0, i: number, bit: number;
  for (i = 0; i < 16; i++) {
    for (crc = i, bit = 0; bit < 4; bit++) crc = crc & 1 ? crc >> 1 ^ 0xa001 : crc >> 1;
    table[i] = crc;
  }
  for (crc = 0, i = 0; i < bytes.length; i++) {
    crc ^= bytes.charCodeAt(i);
    crc = crc >> 4 ^ table[crc & 15];
    crc = crc >> 4 ^ table[crc & 15];
  }
  return crc;
};
