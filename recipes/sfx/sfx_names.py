"""What each source's sounds are called: a phrase per file (what it sounds like) and its label.

One table per package, keyed by regular expressions on the file's name (or the opensfx title).
An entry's phrases describe the sound, never the game it came from: fantasy names (spells,
orcs, liches) are described by what they sound like ("a gruff monster's death cry") or dropped
when the name does not say (magic, status effects). A ``None`` label means "the first
``sfx_labels.TAXONOMY`` rule that matches the phrase".
"""

from __future__ import annotations

import re

from sfx_labels import Entry, Naming, article, drop_reason, lookup
from sfx_labels import entry as _e
from sfx_sources import SourceFile

# Animals as the sources name them -> what they do. Shared by tuxpaint and 0 A.D.
ANIMAL_SOUNDS = {
    "frog": "a frog croaking", "blackbird": "a blackbird singing", "crow": "a crow cawing",
    "cuckoo": "a cuckoo calling", "drake": "a duck quacking", "duck": "a duck quacking",
    "gander": "a goose honking", "hen": "a hen clucking", "chicken": "chickens clucking",
    "heron": "a heron calling", "lark": "a lark singing", "owl": "an owl hooting",
    "penguin": "a penguin calling", "rooster": "a rooster crowing", "seagull": "a seagull crying",
    "turkey": "a turkey gobbling", "vulture": "a vulture screeching", "bee": "a bee buzzing",
    "grasshopper": "a grasshopper chirping", "hornet": "a hornet buzzing",
    "mosquito": "a mosquito whining", "chimp": "a chimpanzee screeching",
    "gorilla": "a gorilla grunting", "dolphin": "a dolphin clicking and whistling",
    "orca": "an orca whale calling", "sea lion": "a sea lion barking",
    "whale": "a whale singing", "bear": "a bear growling", "bison": "a bison grunting",
    "bull": "a bull bellowing", "cow": "a cow mooing", "cattle": "a cow mooing",
    "goat": "a goat bleating", "ram": "a ram bleating", "sheep": "a sheep bleating",
    "lamb": "a lamb bleating", "camel": "a camel groaning", "dromedary": "a camel groaning",
    "lion": "a lion roaring", "tiger": "a tiger growling", "deer": "a deer calling",
    "doe": "a deer calling", "caribou": "a caribou grunting", "dog": "a dog barking",
    "fox": "a fox barking", "elephant": "an elephant trumpeting", "donkey": "a donkey braying",
    "horse": "a horse neighing", "zebra": "a zebra barking", "pig": "a pig grunting",
    "mouse": "a mouse squeaking", "squirrel": "a squirrel chattering",
    "koala": "a koala bellowing", "hippopotamus": "a hippopotamus grunting",
    "flamingo": "a flamingo honking", "peacock": "a peacock calling", "cat": "a cat meowing",
    "bat": "a bat squeaking", "wolf": "a wolf howling",
}


def animal_phrase(animal: str) -> str:
    """``"cow"`` -> ``"a cow mooing"``; an animal without a known call -> ``"the call of a ..."``."""
    return ANIMAL_SOUNDS.get(animal, f"the call of {article(animal)} {animal}")


# ---- openttd-opensfx: keyed by the entry's own title ------------------------------------------

OPENSFX: tuple[Entry, ...] = (
    _e(r"^Good Year$", "a short cheerful jingle", label="music"),
    _e(r"^Bad Year$", "a short gloomy jingle", label="music"),
    _e(r"^Splat \(building docks", "a wet splat", "a splat of mud", label="impact"),
    _e(r"^Factory Whistle$", "a factory steam whistle blowing"),
    _e(r"^Steam train station departure$", "a steam train whistle as it leaves the station"),
    _e(r"^Steam engine going in tunnel$", "a steam locomotive whistling into a tunnel"),
    _e(r"^Ship horn$", "a ship's horn blowing"),
    _e(r"^Ferry horn$", "a ferry horn blowing", "a ship's horn"),
    _e(r"^Propeller plane start$", "a propeller plane engine starting"),
    _e(r"^Early jet take off$", "a jet airliner taking off"),
    _e(r"^Diesel/electric train", "a diesel locomotive horn in the distance"),
    _e(r"^Mining machinery$", "heavy mining machinery rumbling", "an old elevator machine"),
    _e(r"^Electric sparking$", "electric sparks crackling", "a Jacob's ladder buzzing"),
    _e(r"^Steam \(of steam engine\)$", "a hiss of steam from a steam engine"),
    _e(r"^Level crossing$", "a railway level crossing bell ringing"),
    _e(r"^Road vehicle breakdown$", "a heavy metal clunk", label="impact"),
    _e(r"^Train/ship breakdown$", "metal junk clattering", label="impact"),
    _e(r"^Crash$", "a crash", label="impact"),
    _e(r"^Explosion$", "an explosion"),
    _e(r"^Big crash$", "a big crash", label="impact"),
    _e(r"^Cash till$", "a cash register till ringing", label="machine"),
    _e(r"^Beep$", "a short electronic beep"),
    _e(r"^Morse$", "morse code beeping"),
    _e(r"^Plane wheels", "tyres screeching as a plane's wheels touch the ground"),
    _e(r"^Helicopter$", "a helicopter flying"),
    _e(r"^Truck/old bus start, pull away with horn", "an old truck starting and pulling away, with an air horn"),
    _e(r"^Truck/old bus start", "an old truck engine starting and pulling away"),
    _e(r"^Modern bus start$", "a bus pulling away"),
    _e(r"^Old bus start$", "an old bus engine starting"),
    _e(r"^Applause$", "an audience applauding", "a crowd clapping"),
    _e(r"^Oooh sound$", "a crowd going oooh"),
    _e(r"^Splat \(terraform", "a soft earthy thud", label="impact"),
    _e(r"^Splat \(rail builds\)$", "a punchy thump", label="impact"),
    _e(r"^Jackhammer$", "a jackhammer drilling"),
    _e(r"^Modern car horn$", "a car horn honking"),
    _e(r"^Sheep$", "sheep bleating in a field"),
    _e(r"^Cow$", "a cow mooing"),
    _e(r"^Horse$", "a horse neighing"),
    _e(r"^Building bridge$", "hammering metal in a smithy"),
    _e(r"^Sawmill$", "a circular saw cutting wood", label="machine"),
    _e(r"Sugar mine", "a shaker rattling"),
    _e(r"Toy factory \(1\)", "a cartoon clink of glass and a whoosh"),
    _e(r"Toy factory \(2\)", "a cartoon slide whistle falling"),
    _e(r"Toy factory \(3\)", "a cartoon toy factory machine"),
    _e(r"Bubble generated", "bubbles bubbling"),
    _e(r"Bubble plop", "a bubble plopping"),
    _e(r"Toffee quarry", "metal clanks and a cartoon slide whistle falling fast"),
    _e(r"Bubble slurped", "a cartoon slurp"),
    _e(r"Plastic mine", "bubbling liquid"),
    _e(r"^Wind$", "wind blowing"),
    _e(r"^Heavy wind$", "a heavy wind blowing"),
    _e(r"Toyland: Road vehicle breakdown", "a cartoon crash with a snare hit"),
    _e(r"Crashing tree", "a tree falling and crashing down", label="impact"),
    _e(r"Falling tree", "a tree being cut and falling", label="tool"),
    _e(r"Chainsaw", "a chainsaw cutting"),
    _e(r"Toyland: Train breakdown", "a cartoon snap and crash"),
    _e(r"^Mach 1\+ Jet", "a fighter jet roaring past"),
    _e(r"Comedy bus start \(1\)", "a bus starting with a cartoon boing"),
    _e(r"^Modern jet take off$", "jet fighters flying over"),
    _e(r"Comedy bus start \(2\)", "a cartoon bus starting with a bicycle horn honking"),
    _e(r"Comedy truck start \(1\)", "a truck starting with a squeaky toy"),
    _e(r"Comedy truck start \(2\)", "a bus pulling away with a cartoon boink"),
    _e(r"^Maglev train", "a metro train departing"),
    _e(r"Tropical: Bird", "a tropical bird calling"),
    _e(r"Lion roar", "a big cat growling", label="animal"),
    _e(r"Monkeys", "monkeys screeching"),
    _e(r"Toyland: Propeller plane", "a propeller plane taking off"),
    _e(r"Toyland: Jet take off", "a jet taking off", label="vehicle"),
    _e(r"^Monorail train", "a train passing by and slowing down"),
)
OPENSFX_DROPS = ((r"^Unused/Nothing", "placeholder: an empty sound"),)


def _opensfx(source: SourceFile) -> Naming | str:
    title = source.name
    return drop_reason(OPENSFX_DROPS, title) or lookup(OPENSFX, title) or f"no label: {title!r}"


# ---- minetest-data ----------------------------------------------------------------------------

MINETEST_SURFACES = {
    "dirt": "dirt", "grass": "grass", "gravel": "gravel", "hard": "a hard stone floor",
    "ice": "ice", "metal": "metal", "sand": "sand", "snow": "snow", "water": "shallow water",
    "wood": "a wooden floor", "glass": "glass",
}
MINETEST: tuple[Entry, ...] = (
    _e(r"break_glass", "glass breaking", "a glass pane shattering"),
    _e(r"chest_open", "a wooden chest lid opening", label="door"),
    _e(r"chest_close", "a wooden chest lid closing", label="door"),
    _e(r"cool_lava", "lava sizzling as it cools"),
    _e(r"dig_choppy", "an axe chopping wood"),
    _e(r"dig_cracky", "a pickaxe striking stone"),
    _e(r"dig_crumbly", "digging in soft dirt"),
    _e(r"dig_dig_immediate", "a light tap", label="impact"),
    _e(r"dig_metal", "a tool striking metal", label="impact"),
    _e(r"dig_oddly_breakable", "a soft knock by hand"),
    _e(r"dig_snappy", "leaves and twigs snapping"),
    _e(r"dug_metal", "a metal block clanking loose"),
    _e(r"dug_node", "a block breaking loose with a crunch"),
    _e(r"furnace_active", "a furnace fire burning"),
    _e(r"gravel_dig", "a shovel digging into gravel"),
    _e(r"gravel_dug", "gravel crunching loose"),
    _e(r"ice_dig", "a pick chipping at ice", label="tool"),
    _e(r"ice_dug", "a block of ice cracking and breaking"),
    _e(r"item_smoke", "a short hiss and puff of smoke", label="fire"),
    _e(r"place_node_hard", "a hard block set down with a knock"),
    _e(r"place_node_metal", "a metal block set down with a clank"),
    _e(r"place_node", "a block set down with a soft thud"),
    _e(r"tool_breaks", "a tool snapping and breaking"),
    _e(r"player_damage", "a man grunting in pain"),
    _e(r"glass_door_(open|clos)e?", r"a glass door \1ing", label="door"),
    _e(r"steel_bar_door_(open|clos)e?", r"an iron bar door \1ing"),
    _e(r"steel_door_(open|clos)e?", r"a heavy steel door \1ing"),
    _e(r"fencegate_(open|clos)e?", r"a wooden fence gate \1ing"),
    _e(r"door_(open|clos)e?", r"a wooden door \1ing"),
    _e(r"env_sounds_lava", "lava bubbling", label="fire"),
    _e(r"env_sounds_water", "water flowing in a stream"),
    _e(r"extinguish_flame", "a flame put out with a hiss", label="fire"),
    _e(r"fire_(fire|large)", "a large fire crackling"),
    _e(r"fire_small", "a small fire crackling"),
    _e(r"flint_and_steel", "flint striking steel", label="fire"),
    _e(r"tnt_explode", "an explosion", "a TNT explosion"),
    _e(r"gunpowder_burning", "a trail of gunpowder burning and fizzing"),
    _e(r"tnt_ignite", "a fuse being lit and fizzing"),
    _e(r"cart_moving", "a mine cart rolling on rails"),
)
def _minetest(source: SourceFile) -> Naming | str:
    stem = re.sub(r"\.\d+$", "", source.name)
    footstep = re.search(r"([a-z]+)_footstep$", stem)
    if footstep and footstep.group(1) in MINETEST_SURFACES:
        surface = MINETEST_SURFACES[footstep.group(1)]
        phrases = (f"footsteps on {surface}", f"walking on {surface}", f"a footstep on {surface}")
        if footstep.group(1) == "water":
            phrases = ("footsteps splashing in shallow water", "wading through shallow water")
        return Naming(phrases, "footsteps")
    return lookup(MINETEST, stem) or f"no label: {stem!r}"


# ---- sonic-pi-samples -------------------------------------------------------------------------

SONIC_PI: tuple[Entry, ...] = (
    _e(r"^bd_808", "an 808 kick drum"),
    _e(r"^bd_(boom|fat|pure|tek|haus|klub)", r"a \1 kick drum", "an electronic kick drum"),
    _e(r"^bd_", "a kick drum", "an electronic bass drum hit"),
    _e(r"^sn_dub", "a dub snare drum"),
    _e(r"^sn_", "a snare drum hit"),
    _e(r"^drum_heavy_kick", "a heavy kick drum"),
    _e(r"^drum_bass_(hard|soft)", r"an acoustic bass drum, hit \1", "a kick drum"),
    _e(r"^drum_snare_(hard|soft)", r"an acoustic snare drum, hit \1"),
    _e(r"^drum_tom_(hi|mid|lo)_(hard|soft)", r"a \1 tom drum, hit \2"),
    _e(r"^drum_cymbal_closed", "a closed hi-hat cymbal"),
    _e(r"^drum_cymbal_open", "an open hi-hat cymbal"),
    _e(r"^drum_cymbal_pedal", "a pedal hi-hat cymbal"),
    _e(r"^drum_cymbal_(hard|soft)", r"a crash cymbal, hit \1"),
    _e(r"^drum_splash_(hard|soft)", r"a splash cymbal, hit \1"),
    _e(r"^drum_cowbell", "a cowbell"),
    _e(r"^drum_roll", "a snare drum roll"),
    _e(r"^elec_(hollow_kick|soft_kick)", "an electronic kick drum"),
    _e(r"^elec_(\w*snare)", "an electronic snare drum"),
    _e(r"^elec_(fuzz_tom)", "an electronic fuzzy tom drum"),
    _e(r"^elec_(cymbal|triangle)", r"an electronic \1", label="percussion"),
    _e(r"^elec_(\w+?)2?$", r"an electronic \1 sound", "a synth blip"),
    _e(r"^tabla_(\w+?)\d*$", r"a tabla drum stroke (\1)", "an Indian tabla hit"),
    _e(r"^loop_3d_printer", "a 3D printer whirring"),
    _e(r"^loop_amen", "the amen break drum loop", "a breakbeat drum loop", label="music"),
    _e(r"^loop_(breakbeat|industrial|tabla|safari)", r"a \1 drum loop", label="music"),
    _e(r"^loop_(drone_g)", "a droning synth loop in G", label="music"),
    _e(r"^loop_electric", "an electric buzzing loop", label="music"),
    _e(r"^loop_(perc)", "a percussion loop", label="music"),
    _e(r"^loop_weirdo", "a weird electronic loop", label="music"),
    _e(r"^loop_", "an electronic beat loop", label="music"),
    _e(r"^ambi_choir", "a soft choir pad", label="music"),
    _e(r"^ambi_dark_woosh", "a dark whoosh"),
    _e(r"^ambi_drone", "a low ambient drone"),
    _e(r"^ambi_glass_hum", "a humming glass drone", label="ambience"),
    _e(r"^ambi_glass_rub", "a wine glass rubbed until it sings"),
    _e(r"^ambi_haunted_hum", "an eerie haunted hum", label="ambience"),
    _e(r"^ambi_lunar_land", "a spacey ambient texture"),
    _e(r"^ambi_piano", "an ambient piano phrase"),
    _e(r"^ambi_sauna", "an ambient sauna: hissing steam", label="ambience"),
    _e(r"^ambi_soft_buzz", "a soft electronic buzz"),
    _e(r"^ambi_swoosh", "a swoosh"),
    _e(r"^bass_(drop|hit|voxy_hit)", "a synth bass hit", "a deep synth bass note", label="music"),
    _e(r"^bass_(dnb|hard|thick|trance|voxy|woodsy)", r"a \1 synth bass note", label="music"),
    _e(r"^guit_e_fifths", "electric guitar fifths in E"),
    _e(r"^guit_e_slide", "an electric guitar slide"),
    _e(r"^guit_em9", "an E minor 9 guitar chord"),
    _e(r"^guit_harmonics", "guitar harmonics ringing"),
    _e(r"^glitch_bass", "a glitchy bass note"),
    _e(r"^glitch_perc", "a glitchy percussion hit", label="electronic"),
    _e(r"^glitch_robot", "a glitchy robot sound"),
    _e(r"^mehackit_phone", "an electronic telephone tone", label="electronic"),
    _e(r"^mehackit_robot", "robotic electronic bleeps"),
    _e(r"^misc_burp", "a burp"),
    _e(r"^misc_cineboom", "a cinematic boom", label="explosion"),
    _e(r"^misc_crow", "a crow cawing"),
    _e(r"^perc_bell", "a bell ringing", label="percussion"),
    _e(r"^perc_door", "a door slam", label="door"),
    _e(r"^perc_impact", "a heavy impact"),
    _e(r"^perc_snap", "a finger snap", label="percussion"),
    _e(r"^perc_swash", "a cymbal swash"),
    _e(r"^perc_swoosh", "a swoosh"),
    _e(r"^perc_till", "a cash register ringing", label="machine"),
    _e(r"^vinyl_backspin", "a vinyl record backspin", label="music"),
    _e(r"^vinyl_hiss", "vinyl record crackle and hiss", label="music"),
    _e(r"^vinyl_rewind", "a vinyl record rewinding", label="music"),
    _e(r"^vinyl_scratch", "a vinyl record scratch", label="music"),
)


def _sonic_pi(source: SourceFile) -> Naming | str:
    return lookup(SONIC_PI, source.name) or f"no label: {source.name!r}"


# ---- desktop sound themes (freedesktop naming, and Oxygen's own) -------------------------------

DESKTOP_DROPS = (
    (r"^audio channel", "speech: a voice naming a speaker channel"),
    (r"^audio test signal", "test signal: noise for speaker tests"),
)
DESKTOP: tuple[Entry, ...] = (
    _e(r"error critical|error serious very", "a critical error alert"),
    _e(r"error printing", "a printing error alert"),
    _e(r"error|cant connect|internal error|network problems|finish error", "an error alert"),
    _e(r"warning|battery low|power unplug battery low", "a warning alert"),
    _e(r"question|user auth", "a question prompt chime"),
    _e(r"information|special|sent to desktop", "an information notification chime"),
    _e(r"new email|new mail", "a new email notification"),
    _e(r"low priority message", "a soft message notification"),
    _e(r"message out", "a message sent notification"),
    _e(r"message|chat|sms|highlight msg|irc event", "a new message notification"),
    _e(r"phone incoming call|phone ring", "a phone ringing notification"),
    _e(r"phone outgoing busy", "a telephone busy tone"),
    _e(r"phone outgoing calling", "a telephone ringback tone", label="interface"),
    _e(r"nudge", "a nudge buzz notification"),
    _e(r"contact in|connectivity established", "a contact online chime"),
    _e(r"contact out|connection lost|connectivity lost", "a connection lost alert"),
    _e(r"log in long|login|log in|system ready|service login", "a login chime"),
    _e(r"log out long|logout|logoff|log out|shutdown|service logout", "a logout chime"),
    _e(r"suspend resume", "a wake from sleep chime"),
    _e(r"device added|power plug|insert medium", "a device connected chime"),
    _e(r"device removed|power unplug", "a device disconnected chime"),
    _e(r"trash empt", "a trash emptied interface sound", "crumpling paper interface sound"),
    _e(r"camera shutter|screen capture", "a camera shutter click interface sound"),
    _e(r"volume change", "a volume change blip interface sound"),
    _e(r"alarm clock", "an alarm clock ringing alert"),
    _e(r"^bell$|window attention", "a bell alert chime"),
    _e(r"complete|finish success|positive", "a task complete chime"),
    _e(r"negative|list match no|file open foes", "a negative feedback interface sound"),
    _e(r"list end|list match multiple", "a list search blip interface sound"),
    _e(r"window (close|maximize|minimize|move stop|move|shade down|shade up)",
       r"a window \1 swoosh interface sound", label="interface"),
    _e(r"window all desktops", "a window moved to all desktops interface sound"),
    _e(r"app message|sys app", "an application notification chime"),
)
THEMES = {
    "sound-theme-freedesktop": "freedesktop",
    "oxygen-sounds": "Oxygen",
    "yaru-theme-sound": "Yaru",
    "deepin-sound-theme": "Deepin",
}


def _desktop(source: SourceFile) -> Naming | str:
    words = " ".join(re.sub(r"^Oxygen-|^x-deepin-", "", source.name).lower().replace("-", " ").split())
    reason = drop_reason(DESKTOP_DROPS, words)
    if reason:
        return reason
    found = lookup(DESKTOP, words)
    if found is None:
        return f"no label: {words!r}"
    theme = THEMES[source.package]
    extra = f"{article(theme)} {theme} desktop sound: {words}"
    return Naming((*found.phrases, extra), found.label)


# ---- arcade (Kenney.nl retro effects) ---------------------------------------------------------

ARCADE: tuple[Entry, ...] = (
    _e(r"^coin", "a retro coin pickup sound", "an 8-bit coin collect blip"),
    _e(r"^error", "a retro error buzz", "an 8-bit wrong-answer sound"),
    _e(r"^explosion", "a retro 8-bit explosion"),
    _e(r"^fall", "a retro falling sound", "an 8-bit descending pitch sweep"),
    _e(r"^gameover", "a retro game over jingle"),
    _e(r"^hit", "a retro hit sound", "an 8-bit impact blip"),
    _e(r"^hurt", "a retro hurt sound", "an 8-bit damage sound"),
    _e(r"^jump", "a retro jump sound", "an 8-bit rising boing"),
    _e(r"^laser", "a retro laser zap", "an 8-bit laser shot"),
    _e(r"^lose", "a retro losing jingle"),
    _e(r"^phaseJump", "a retro phase jump sound", "an 8-bit warp"),
    _e(r"^rockHit", "a rock hitting the ground", label="impact"),
    _e(r"^secret", "a retro secret found jingle"),
    _e(r"^upgrade", "a retro power-up sound", "an 8-bit upgrade arpeggio"),
)


def _arcade(source: SourceFile) -> Naming | str:
    return lookup(ARCADE, source.name) or f"no label: {source.name!r}"


def name_sound(source: SourceFile) -> Naming | str:
    """What a source file sounds like and its label, or why it is dropped (a string)."""
    from sfx_names_games import NAMERS as GAME_NAMERS

    namers = {
        "openttd-opensfx": _opensfx,
        "minetest-data": _minetest,
        "sonic-pi-samples": _sonic_pi,
        "arcade": _arcade,
        **dict.fromkeys(THEMES, _desktop),
        **GAME_NAMERS,
    }
    return namers[source.package](source)
