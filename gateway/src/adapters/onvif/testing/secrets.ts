import { generateSealingKeys, loadSealingPrivateKey, openSecret, sealSecret, secretContext } from "@supervision/firmware-protocols";

/**
 * A gateway's sealing key for tests: seals camera passwords as the hub does, and opens them as the gateway's
 * controller does (LinkContext.openSecret), so the adapter is tested with sealed passwords only.
 */
export function testSealing(gatewayId = "gw-test") {
  const keys = generateSealingKeys();
  const privateKey = loadSealingPrivateKey(keys.privateKeyPem);
  return {
    seal(deviceId: string, password: string): string {
      const sealed = sealSecret(password, keys.publicKeyPem, secretContext(gatewayId, deviceId, "onvif", "password"));
      if (!sealed.ok) throw new Error(sealed.error.message);
      return sealed.value;
    },
    open(deviceId: string, field: string, sealed: string): string {
      const opened = openSecret(sealed, privateKey, secretContext(gatewayId, deviceId, "onvif", field));
      if (!opened.ok) throw new Error(opened.error.message);
      return opened.value;
    },
  };
}
