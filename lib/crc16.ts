// CRC-16/IBM (also CRC-16/ARC), the check the platform appends to every MQTT download block
// (docs/ALIYUN.md): polynomial 0x8005 processed reflected (0xA001), initial value 0, no final XOR.
// The code lives in otaKit() (lib/ota.ts), created only while a block is checked: RAM.
import { otaKit } from "./ota";

/** CRC-16/IBM of a byte string ("123456789" gives 0xBB3D). */
export const crc16 = (bytes: string): number => otaKit()._crc16(bytes);
