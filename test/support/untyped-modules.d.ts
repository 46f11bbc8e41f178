// The official Alibaba Cloud Node SDK ships no type declarations; the tests use it only as an
// independent client (its connect/publish API), so it is declared as an untyped module.
declare module "alibabacloud-iot-device-sdk";
