/**
 * Conformance cases: RESTORE of corrupt DUMP payloads (the checksum skipped or valid, the
 * structure broken: byte counts, entry lengths, previous-entry lengths, element counts,
 * duplicate fields or members, empty encodings, streams whose listpacks or groups disagree).
 * Redis answers "Bad data format" and keeps running; under sanitize-dump-payload yes its deep
 * checks refuse more. A payload Redis accepts unsanitized only to fail later when the value is
 * used (an assertion) is checked under "yes" only: there, we refuse it where it does.
 */
import type { Case, Step } from "./cases.ts";
import { c } from "./cases.ts";

/** Hex to a binary string (one char per byte), as RESTORE's payload argument. */
const hex = (h: string): string => h.replace(/../g, (b) => String.fromCharCode(parseInt(b, 16)));

const BAD = "-ERR Bad data format\r\n";
const OK = "+OK\r\n";

/** RESTORE of `payload` into k, with its literal reply, then whether k exists. */
function restore(payload: string, reply: string): Step[] {
  return [
    { cmd: ["RESTORE", "k", "0", payload, "REPLACE"], expect: reply },
    { cmd: ["EXISTS", "k"], expect: reply === OK ? ":1\r\n" : ":0\r\n" },
  ];
}

/** A case: the payload under each sanitize-dump-payload mode given, then the defaults back. */
function corrupt(
  name: string,
  payload: string,
  modes: [string, string][],
  after: (string[] | Step)[] = [],
): Case {
  const steps: (string[] | Step)[] = [c("DEBUG", "SET-SKIP-CHECKSUM-VALIDATION", "1")];
  for (const [mode, reply] of modes) {
    steps.push(c("CONFIG", "SET", "sanitize-dump-payload", mode), ...restore(payload, reply));
    if (reply === OK) steps.push(...after, c("DEL", "k"));
  }
  steps.push(
    c("CONFIG", "SET", "sanitize-dump-payload", "no"),
    c("DEBUG", "SET-SKIP-CHECKSUM-VALIDATION", "0"),
    { cmd: ["PING"], expect: "+PONG\r\n" },
  );
  return { name: `corrupt DUMP payload: ${name}`, steps };
}

export const CASES_CORRUPT_DUMP: Case[] = [
  corrupt(
    "hash with valid zip list header, invalid entry len",
    hex(
      "0d1b1b00000016000000040000026100040262000414630004026400ff0900d9" +
        "10549215f55f52",
    ),
    [["no", BAD], ["yes", BAD]],
  ),
  corrupt(
    "invalid zlbytes header",
    hex(
      "0d1b2500000016000000040000026100040262000402630004026400ff0900b7" +
        "f76e9f434314c6",
    ),
    [["no", BAD], ["yes", BAD]],
  ),
  corrupt(
    "valid zipped hash header, dup records",
    hex(
      "0d1b1b00000016000000040000026100040262000402610004026400ff0900a1" +
        "983678cc8e932e",
    ),
    [["no", BAD], ["yes", BAD]],
  ),
  corrupt(
    "quicklist big ziplist prev len",
    hex(
      "0e0113130000000e0000000200000261000e026200ff0900499730b20da1edaa",
    ),
    [["no", BAD], ["yes", BAD]],
  ),
  corrupt(
    "quicklist small ziplist prev len",
    hex(
      "0e0113130000000e00000002000002610002026200ff0900c77103970775b063",
    ),
    [["no", BAD], ["yes", BAD]],
  ),
  corrupt(
    "quicklist ziplist wrong count",
    hex(
      "0e0113130000000e00000003000002610004026200ff09004de20a2f0825df91",
    ),
    [["no", BAD], ["yes", BAD]],
  ),
  corrupt(
    "#3080 - quicklist",
    hex(
      "0e01800000001041414141414141410200008041414141070003c71def5468cc" +
        "f3",
    ),
    [["no", BAD], ["yes", BAD]],
  ),
  corrupt(
    "quicklist with empty ziplist",
    hex(
      "0e010b0b0000000a0000000000ff0900c26937833c7ffe6f",
    ),
    [["no", BAD], ["yes", BAD]],
  ),
  corrupt(
    "quicklist encoded_len is 0",
    hex(
      "120101000a008fc6c0571c0ab33c",
    ),
    [["no", BAD], ["yes", BAD]],
  ),
  corrupt(
    "quicklist listpack entry start with EOF",
    hex(
      "1201020b0b0000000100816102ffff0a007ed8de5b0dd770b8",
    ),
    [["yes", BAD]],
  ),
  corrupt(
    "#3080 - ziplist",
    hex(
      "0a8000000010414141414141414102000080414141410700395b49e0c1c6dd76",
    ),
    [["no", BAD], ["yes", BAD]],
  ),
  corrupt(
    "listpack invalid size header",
    hex(
      "0f01100000000000000002000000000000000240555f0000000f000101000102" +
        "0188310000000000000009883200000000000000090001000100010001020288" +
        "3100000000000000098861000000000000000988320000000000000009886200" +
        "000000000000090801ff0a010000090045910a872fa5f92e",
    ),
    [["no", BAD], ["yes", BAD]],
  ),
  corrupt(
    "listpack too long entry len",
    hex(
      "0f0110000000000000000200000000000000024055550000000f000101000102" +
        "0188310000000000000009883200000000000000090001000100010001020289" +
        "3100000000000000098861000000000000000988320000000000000009886200" +
        "000000000000090801ff0a01000009004063c93703a2e568",
    ),
    [["yes", BAD]],
  ),
  corrupt(
    "listpack very long entry len",
    hex(
      "0f0110000000000000000200000000000000024055550000000f000101000102" +
        "0188310000000000000009883200000000000000090001000100010001020288" +
        "31000000000000000988610000000000000009883200000000000000099c6200" +
        "000000000000090801ff0a0100000900636f428e7cb5a29d",
    ),
    [["yes", BAD]],
  ),
  corrupt(
    "listpack too long entry prev len",
    hex(
      "0f0110000000000000000200000000000000024055550000000f000101001502" +
        "0188310000000000000009883200000000000000090001000100010001020288" +
        "3100000000000000098861000000000000000988320000000000000009886200" +
        "000000000000090801ff0a010000090006fb44240a8e75ea",
    ),
    [["yes", BAD]],
  ),
  corrupt(
    "stream with duplicate consumers",
    hex(
      "0f0000000001076d7967726f757000000002046e616d652a4caa9a7d01000000" +
        "046e616d652b4caa9a7d010000000a00cced8ca762eec7c8",
    ),
    [["no", BAD], ["yes", BAD]],
  ),
  corrupt(
    "hash ziplist with duplicate records",
    hex(
      "0d3d3d0000003a000000141300f502f502f202535f3104f302f302f702f702f8" +
        "02025f3704f102f102f602025f3504f402025f3304fa02025f3904f902f9ff09" +
        "00b548de6231d0e563",
    ),
    [["no", BAD], ["yes", BAD]],
  ),
  corrupt(
    "hash listpack with duplicate records",
    hex(
      "101717000000040082610003826200038261000382640003ff0a00c0cfa687e5" +
        "a7c5be",
    ),
    [["yes", BAD]],
  ),
  corrupt(
    "hash listpack with duplicate records - convert",
    hex(
      "101717000000040082610003826200038261000382640003ff0a00c0cfa687e5" +
        "a7c5be",
    ),
    [["yes", BAD]],
  ),
  corrupt(
    "hash ziplist uneven record count",
    hex(
      "0d1b1b00000016000000040000026100040262000402610004026400ff0900a1" +
        "983678cc8e932e",
    ),
    [["no", BAD], ["yes", BAD]],
  ),
  corrupt(
    "hash duplicate records",
    hex(
      "040201610162016101640900c69cabbc086b0c06",
    ),
    [["yes", BAD]],
  ),
  corrupt(
    "hash empty zipmap",
    hex(
      "090200ff0900c0f1b8674c16ace3",
    ),
    [["no", BAD], ["yes", BAD]],
  ),
  corrupt(
    "NPD in streamIteratorGetID",
    hex(
      "0f011000000173bd684871000000000000000040424200000018000301000102" +
        "01846974656d058576616c756506000102010001000101010001050102010001" +
        "01010101825f31030501020100010201010102014801ff038100000173bd6848" +
        "710201076d7967726f75708100000173bd684871000100000173bd6848710000" +
        "000000000000724868bd73010000010105416c696365724868bd730100000100" +
        "000173bd6848710000000000000000090080cdb0d51aceff10",
    ),
    [["no", OK], ["yes", BAD]],
  ),
  corrupt(
    "listpack NPD on invalid stream",
    hex(
      "0f011000000173dcb66bf1000000000000000040424200000018000301000102" +
        "01846974656d058576616c756506000102010001000101010001050102011f01" +
        "000101016d5f31030501020129010001010102010501ff038100000173dcb66c" +
        "1a0001076d7967726f75708100000173dcb66bf1000100000173dcb66bf10000" +
        "0000000000004b6cb6dc73010000010105416c6963653d6cb6dc730100000100" +
        "000173dcb66bf100000000000000000900c77d1cd704ffe69d",
    ),
    [["yes", BAD]],
  ),
  corrupt(
    "NPD in quicklistIndex",
    hex(
      "0e01131300000010000000031200f302025f3104f1ff0900c94b31fe61c096fe",
    ),
    [["no", BAD], ["yes", BAD]],
  ),
  corrupt(
    "encoded entry header reach outside the allocation",
    hex(
      "0d191900000016000000060000f102f102f202025f31049902f3ff0900c5b810" +
        "c08af916df",
    ),
    [["no", BAD], ["yes", BAD]],
  ),
  corrupt(
    "invalid ziplist encoding",
    hex(
      "0e021b1b00000016000000050000025f3904f902865f3704f702025f35ff1919" +
        "00000016000000050000f502025f3304f302025f3104f1ff09000cfc992c2345" +
        "1560",
    ),
    [["no", BAD], ["yes", BAD]],
  ),
  corrupt(
    "hash crash",
    hex(
      "0d191900000016000000060000f102f102f202025f3104f302f3ff090038b810" +
        "c08af916df",
    ),
    [["no", OK], ["yes", OK]],
    [{ cmd: ["HGETALL", "k"], sort: true }, c("HLEN", "k"), c("HGET", "k", "1")],
  ),
  corrupt(
    "uneven entry count in hash",
    hex(
      "0d3d3d00000038000000140000f202025f31041c02f702f102f102f502f502f4" +
        "02025f3304f602025f3504f802025f3704f902f902f302f302fa02025f39ff09" +
        "0073b768c897248e88",
    ),
    [["no", BAD], ["yes", BAD]],
  ),
  corrupt(
    "invalid read in lzf_decompress",
    hex(
      "0203025f31c002c3000900e6dc7644ffeb3dfe",
    ),
    [["no", BAD], ["yes", BAD]],
  ),
  corrupt(
    "leak in rdbloading due to dup entry in set",
    hex(
      "020a025f39c006025f31c000c004025f35c002c008025f31025f3309007a5afb" +
        "903ae93cbe",
    ),
    [["no", BAD], ["yes", BAD]],
  ),
  corrupt(
    "empty intset",
    hex(
      "02c0c006025f39c002025f33c000025f31c004c008025f37025f350900c5d46d" +
        "baad14b7e7",
    ),
    [["no", BAD], ["yes", BAD]],
  ),
  corrupt(
    "zset ziplist entry lensize is 0",
    hex(
      "0c3d3d0000003a000000140000f102f102025f3104f202f302f302025f3304f4" +
        "02ee02f502025f3504f602f702f702025f3704f802f902f902025f3904faff09" +
        "00aef9772a472433f6",
    ),
    [["no", BAD], ["yes", BAD]],
  ),
  corrupt(
    "valgrind ziplist prevlen reaches outside the ziplist",
    hex(
      "0e021b1b00000016000000050000025f3904f902025f3704f702025f35ff1919" +
        "00000016000000050000f502025f3304f395025f3104f1ff09000cfc992c2345" +
        "1560",
    ),
    [["no", BAD], ["yes", BAD]],
  ),
  corrupt(
    "valgrind - bad rdbLoadDoubleValue",
    hex(
      "030111110000000a000000010000d0071ae902ff09001a06073241283a46",
    ),
    [["no", BAD], ["yes", BAD]],
  ),
  corrupt(
    "valgrind ziplist prev too big",
    hex(
      "0e01131300000010000000030000f302025f31c1f1ff0900c94b31fe61c096fe",
    ),
    [["no", BAD], ["yes", BAD]],
  ),
  corrupt(
    "lzf decompression fails, avoid valgrind invalid read",
    hex(
      "0f021000000173ddaa2ab90000000000000000c3404b405c185c000000240005" +
        "0100010201846974656d058576616c756506401000002001000120030005201c" +
        "4007050101825f3103800d400000026019402740190033601940290201010420" +
        "1900ff1000000173ddaa2abc0000000000000000c3404d405e185e0000002400" +
        "050100010201846974656d058576616c756506401000002001060101825f3503" +
        "05201e170b0301010601400b0001600d02825f37601980000008601980270282" +
        "5f39201900ff0a8100000173ddaa2abe0000090021857743717b1788",
    ),
    [["no", BAD], ["yes", BAD]],
  ),
  corrupt(
    "stream bad lp_count",
    hex(
      "0f011000000173dedf7d9b000000000000000040424200000018000301000102" +
        "01846974656d058576616c756506000102010001000101010001560102012201" +
        "00010101825f3103050102012c010001010102010501ff038100000173dedf7d" +
        "c70001076d7967726f75708100000173dedf7d9b000100000173dedf7d9b0000" +
        "000000000000f97ddfde73010000010105416c696365eb7ddfde730100000100" +
        "000173dedf7d9b00000000000000000900b2a8a75f1b6172d5",
    ),
    [["no", OK], ["yes", BAD]],
  ),
  corrupt(
    "stream bad lp_count - unsanitized",
    hex(
      "0f011000000173dedf7d9b000000000000000040424200000018000301000102" +
        "01846974656d058576616c756506000102010001000101010001560102012201" +
        "00010101825f3103050102012c010001010102010501ff038100000173dedf7d" +
        "c70001076d7967726f75708100000173dedf7d9b000100000173dedf7d9b0000" +
        "000000000000f97ddfde73010000010105416c696365eb7ddfde730100000100" +
        "000173dedf7d9b00000000000000000900b2a8a75f1b6172d5",
    ),
    [["no", OK], ["yes", BAD]],
  ),
  corrupt(
    "stream integrity check issue",
    hex(
      "0f0210000001752da290670000000000000000c3404f405c185c000000240005" +
        "0100014a01846974656d058576616c756506401000002001000120030005201c" +
        "4009050101825f3103800d0002200d0002a0190003200b02825f33a019000420" +
        "0d0004201900ff10000001752da290670000000000000005c340564060186000" +
        "00002400050100010201846974656d058576616c756506401000002001060101" +
        "825f350305201e400b0301010601800b0002200b02825f376019030101dffb20" +
        "050008601a200c00fc200502825f39201b00ff0a81000001752da29068010009" +
        "001d6fc0698adef792",
    ),
    [["yes", BAD]],
  ),
  corrupt(
    "infinite loop",
    hex(
      "0f0110000001753aa6d093000000000000000040424200000018000301000102" +
        "01846974656d058576616c756506000102010001000101010001050102010001" +
        "01010101825f3103fd01020100010201010102010501ff0381000001753aa6d0" +
        "930201076d7967726f757081000001753aa6d0930001000001753aa6d0930000" +
        "00000000000094d0a63a75010000010105416c69636594d0a63a750100000100" +
        "0001753aa6d09300000000000000000900c409ad697eeea62f",
    ),
    [["yes", BAD]],
  ),
  corrupt(
    "hash ziplist too long entry len",
    hex(
      "0d3d3d0000003a000000141300f502f502f202535f3104f302f302f702f702f8" +
        "02025f3704f102f102f602025f3504f402025f3304fa02025f3904f902f9ff09" +
        "00b548de6231d0e563",
    ),
    [["no", BAD], ["yes", BAD]],
  ),
  corrupt(
    "OOM in rdbGenericLoadStringObject",
    hex(
      "0a817fffffffffffffff130000000e00000002000002610004026200ff090057" +
        "04e5cdd4376c57",
    ),
    [["no", BAD], ["yes", BAD]],
  ),
  corrupt(
    "OOM in dictExpand",
    hex(
      "0281025f31c000c0020900cd842cb7e8a44957",
    ),
    [["no", BAD], ["yes", BAD]],
  ),
  corrupt(
    "zset ziplist invalid tail offset",
    hex(
      "0c191900000002000000060000f102f102025f3104f202f302f3ff09004d727b" +
        "97cd9a70c1",
    ),
    [["no", BAD], ["yes", BAD]],
  ),
  corrupt(
    "negative reply length",
    hex(
      "0f011000000175cfa116a7000000000000000040424200000018000301000102" +
        "01846974656d058576616c756506000102010001000101010001050102010001" +
        "01010101145f31030501020100010201010102010501ff038100000175cfa116" +
        "a70201076d7967726f75708100000175cfa116a7010100000175cfa116a70000" +
        "000000000001a716a1cf75010000010105416c696365a716a1cf750100000100" +
        "000175cfa116a7000000000000000109001b4252b8dd5ce54e",
    ),
    [["yes", BAD]],
  ),
  corrupt(
    "valgrind negative malloc",
    hex(
      "0e0181d6d60000000a00000001000040c86f2f36e2dfe32e26648b87d17abdff" +
        "efef6365f6f88c4eec96895688f83d965a32bdd136d802e66637cb3434c452a7" +
        "2ad56f2f7eeea294d9eba909383be1a960b64e09441f7024aa47a86e30e11349" +
        "4ea192c46cf03583d94fd99c0a0d7ae7b161f5c12ddcc30e87a6801518ba7f72" +
        "dd147546440bca9c8f1c3cd7da0662187e151724ab452127c2bcbb866ed8bd8e" +
        "50e0e088a49b9d152a98ff5e786c81fca8c9c8e661c8d14a7f81d6a61aad4cc1" +
        "a21c9068152a8a36c058c3cca65419120feb46ff6ee3a792f8ff0900d071f79f" +
        "f76ad62e",
    ),
    [["no", BAD], ["yes", BAD]],
  ),
  corrupt(
    "valgrind invalid read",
    hex(
      "050a025f390000000000002240c0080000000000002040025f37000000000000" +
        "1c40c0060000000000001840025f330000000000001440c00400000000000010" +
        "40025f330000000000000840c0020000000000000040025f31000000000000f0" +
        "3fc000000000000000000009003c66d714a9da3c69",
    ),
    [["no", BAD], ["yes", BAD]],
  ),
  corrupt(
    "empty hash ziplist",
    hex(
      "04c0010900f68ab67a8587724d",
    ),
    [["no", BAD], ["yes", BAD]],
  ),
  corrupt(
    "stream with no records",
    hex(
      "0f0110000001784d556809000000000000000040424200000018000201010102" +
        "01846974656d058576616c756506000102010001000101010001050103013e01" +
        "00010101825f31030501020150010001010102010523ff0281000001784d5568" +
        "590001076d7967726f757081000001784d5568470001000001784d5568470000" +
        "0000000000009f68554d78010000010105416c6963658568554d780100000100" +
        "0001784d55684700000000000000000900f1c0727039401ea9",
    ),
    [["no", OK], ["yes", BAD]],
  ),
  corrupt(
    "quicklist ziplist tail followed by extra data which start with 0xff",
    hex(
      "0e0111110000000a000000010000f6ffb06c9cff09009c3747494dde94f5",
    ),
    [["no", BAD], ["yes", BAD]],
  ),
  corrupt(
    "dict init to huge size",
    hex(
      "0281c000025f31c0020900b21be5172e15f46c",
    ),
    [["no", BAD], ["yes", BAD]],
  ),
  corrupt(
    "huge string",
    hex(
      "0081010900f62bb67a8587724d",
    ),
    [["no", BAD], ["yes", BAD]],
  ),
  corrupt(
    "stream PEL without consumer",
    hex(
      "0f01100000017b08f0b2340000000000000000c33b4042194200000018000201" +
        "01010201846974656d058576616c756506002010000020010001200302050103" +
        "2005400004825f31030560198032020501ff02810000017b08f0b2340201076d" +
        "7967726f7570810000017b08f0b23401010000017b08f0b23400000000000000" +
        "0135b2f0087b010000010113416c69636535b2f0087b010000010000017b08f0" +
        "b23400000000000000010900282fe0c504bba731",
    ),
    [["yes", BAD]],
  ),
  corrupt(
    "stream listpack valgrind issue",
    hex(
      "0f01100000017b095e94ff000000000000000040424200000018000201010102" +
        "01846974656d058576616c756506000102010001000101010001050103012501" +
        "00010101825f3103050102013201000101010201f001ff02810000017b095e95" +
        "310001076d7967726f7570810000017b095e952400010000017b095e95240000" +
        "0000000000005c955e097b010000010105416c6963654b955e097b0100000100" +
        "00017b095e952400000000000000000900192994df76f81ac6",
    ),
    [["yes", BAD]],
  ),
  corrupt(
    "stream with bad lpFirst",
    hex(
      "0f01100000017b0e52d2ec0000000000000000404242000000180002f7010102" +
        "01846974656d058576616c756506000102010001000101010001050103010101" +
        "00010101825f31030501020101010101010102010501ff02810000017b0e52d2" +
        "ed0101076d7967726f7570810000017b0e52d2ed00010000017b0e52d2ed0000" +
        "000000000000edd2520e7b010000010105416c696365edd2520e7b0100000100" +
        "00017b0e52d2ed00000000000000000900ac05c9975d4580b3",
    ),
    [["yes", BAD]],
  ),
  corrupt(
    "stream with non-integer entry id",
    hex(
      "0f03100000017b1334c3b20000000000000000c3404f405c185c000000240005" +
        "0100010201846974656d058576616c756506401000802001000120030005201c" +
        "4009050101825f3103800d0002200d0002a0190003200b02825f33a019000420" +
        "0d0004201900ff100000017b1334c3b20000000000000005c340564061186100" +
        "00002400050100010201846974656d058576616c756506401000002001060101" +
        "825f350305201e400b0301010601400b030101dffb200502825f37601a200e00" +
        "fc20050008c01b00fd200c02825f39201b00ff100000017b1334c3b300000000" +
        "00000003c33d404a184a0000001500020100010201846974656d058576616c75" +
        "650640100000200140000005600702dffd02c02309010186756e6971756507a0" +
        "2d020801ff0c810000017b1334c3b4000009009dbdd5b933c4c5ff",
    ),
    [["yes", BAD]],
  ),
  corrupt(
    "empty quicklist",
    hex(
      "0ec02b150000000a000000010000e06258eadf22000000ff0900df35d267dc0e" +
        "89ab",
    ),
    [["no", BAD], ["yes", BAD]],
  ),
  corrupt(
    "empty zset",
    hex(
      "05c0010900f68ab67a8587724d",
    ),
    [["no", BAD], ["yes", BAD]],
  ),
  corrupt(
    "hash with len of 0",
    hex(
      "04c0210900f68ab67a8587724d",
    ),
    [["no", BAD], ["yes", BAD]],
  ),
  corrupt(
    "hash listpack first element too long entry len",
    hex(
      "1015150000000600f00100010101825f310302010201ff0a0094210afa06529f" +
        "44",
    ),
    [["yes", BAD]],
  ),
  corrupt(
    "stream double free listpack when insert dup node to rax returns 0",
    hex(
      "0f03100000017b605a23790000000000000000c3404f405c185c000000240005" +
        "0100010201846974656d058576616c756506401000002001000120030005201c" +
        "4009050101825f3103800d0002200d0002a0190003200b02825f33a019000420" +
        "0d0004201900ff100000017b605a23790000000000000005c34051405e185e00" +
        "00002400050100010201846974656d058576616c756506401000002001060101" +
        "825f350305201e400b0301010601800b0002200b02825f37a0190003200d0008" +
        "a0190004200b02825f39201900ff100000017b605a23790000000000000000c3" +
        "3b404918490000001500020100010201846974656d058576616c756506401000" +
        "0020014000000520074009c02209010186756e6971756507a02c020801ff0c81" +
        "0000017b605a237a01000a009c8f1ebf2e055909",
    ),
    [["no", BAD], ["yes", BAD]],
  ),
  corrupt(
    "gcc asan reports false leak on assert",
    hex(
      "120102131300000010000000030000f3fe025f3104f1ff0a00198d3d74859429" +
        "bd",
    ),
    [["yes", BAD]],
  ),
  corrupt(
    "lpFind invalid access",
    hex(
      "1039390000001400060106010301825f33030701825f37030001000104010401" +
        "0901825f39030501825f3503080108010101825f31030201f001ff0a0029d7e4" +
        "52797a9582",
    ),
    [["yes", BAD]],
  ),
  corrupt(
    "invalid access in ziplist tail prevlen decoding",
    hex(
      "0e021b1b00000016000000050000025f3904f902025f3704f702025f35ff1919" +
        "00000016000000050000f502025f3304f302025f31fef1ff0a006b43322fbb29" +
        "0abe",
    ),
    [["no", BAD], ["yes", BAD]],
  ),
  corrupt(
    "zset zslInsert with a NAN score",
    hex(
      "050a025f390000000000002240c0080000000000002040025f37000000000000" +
        "1c40c0060000000000001840025f350000000000001440c00400000000000010" +
        "40025f330000000000000840c0020000000000000040025f31000000000055f0" +
        "7fc00000000000000000000a00ec9486d8fd5c5fd8",
    ),
    [["no", BAD], ["yes", BAD]],
  ),
  corrupt(
    "streamLastValidID panic",
    hex(
      "13c010000001802048a0330000000000000000c3404f405c185c000000240005" +
        "0100010201846974656d058576616c756506401000002001000120030005201c" +
        "4009050101825f3103800d0002200d0002a0190003200b02825f336019402f02" +
        "010104201900ff10000001802048a0340000000000000001c34051405e185e00" +
        "00002400050100010201846974656d058576616c756506401000002001060101" +
        "825f350305201e400b0301010601800b0002200b02825f37a0190003200d0008" +
        "a0190004200b02825f39201900ff10000001802048a0340000000000000006c3" +
        "3d404a184a0000001500020100010201846974656d058576616c756506401000" +
        "00200140000005600702dffa02c02309010186756e6971756507a02d020801ff" +
        "0c81000001802048a0350081000001802048a0330000000c000a00348b0e5b42" +
        "cdd608",
    ),
    [["no", BAD], ["yes", BAD]],
  ),
  corrupt(
    "valgrind fishy value warning",
    hex(
      "13011000000181cc07dcf2000000000000000040424200000018000201010102" +
        "01846974656d058576616c756506000102010001000101010001050103012c01" +
        "00010101825f3103050102013c010001010102010501ff02d000000181cc07dd" +
        "2e008100000181cc07dcf2008100000181cc07dd1e000301076d7967726f7570" +
        "8100000181cc07dd1e00020100000181cc07dd1e000000000000000071dd07cc" +
        "81010000010105416c69636558dd07cc810100000100000181cc07dd1e000000" +
        "00000000000a002fb0d1150a97876b",
    ),
    [["no", BAD], ["yes", BAD]],
  ),
  // Plain (non-compact) encodings: empty values, duplicate elements, a NaN score.
  corrupt("empty list", "\x01\x00\x0a\x00" + "\x00".repeat(8), [["no", BAD], ["yes", BAD]]),
  corrupt("empty set", "\x02\x00\x0a\x00" + "\x00".repeat(8), [["no", BAD], ["yes", BAD]]),
  corrupt("empty hash", "\x04\x00\x0a\x00" + "\x00".repeat(8), [["no", BAD], ["yes", BAD]]),
  corrupt(
    "set with a member twice",
    "\x02\x02\x01a\x01a\x0a\x00" + "\x00".repeat(8),
    [["no", BAD], ["yes", BAD]],
  ),
  corrupt(
    "sorted set with a member twice",
    "\x05\x02\x01a" + "\x00".repeat(8) + "\x01a" + "\x00".repeat(8) + "\x0a\x00" +
      "\x00".repeat(8),
    [["no", BAD], ["yes", BAD]],
  ),
  corrupt(
    "sorted set with a NaN score",
    "\x03\x01\x01a\xfd\x0a\x00" + "\x00".repeat(8),
    [["no", BAD], ["yes", BAD]],
  ),
  corrupt(
    "hash with a field twice (checked in depth only)",
    "\x04\x02\x01f\x01a\x01f\x01b\x0a\x00" + "\x00".repeat(8),
    [["yes", BAD]],
  ),
  corrupt(
    "intset of no elements",
    "\x0b\x08\x02\x00\x00\x00\x00\x00\x00\x00\x0a\x00" + "\x00".repeat(8),
    [["no", BAD], ["yes", BAD]],
  ),
  corrupt(
    "intset out of order (checked in depth only)",
    "\x0b\x0c\x02\x00\x00\x00\x02\x00\x00\x00\x05\x00\x03\x00\x0a\x00" + "\x00".repeat(8),
    [["yes", BAD]],
  ),
  corrupt(
    "listpack hash whose back-length is wrong (checked in depth only)",
    "\x10\x0d\x0d\x00\x00\x00\x02\x00\x81\x66\x02\x81\x76\x05\xff\x0a\x00" +
      "\x00".repeat(8),
    [["no", OK], ["yes", BAD]],
  ),
];
